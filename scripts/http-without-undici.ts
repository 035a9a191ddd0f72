// An esbuild plugin for ES modules that import `node:http` (client-node, kube-irsa's own code): Node
// gives such an import all of the module's exports at once, and three of them (WebSocket,
// CloseEvent, MessageEvent) are getters that load Node's own copy of undici, for classes kube-irsa
// never uses: 1.3-2.3 MiB resident in the webhook (measured at 10,000 ServiceAccounts; the bundled
// undici has loaded the web streams already), 14 MiB in a process that has nothing else.
// CommonJS `require('node:http')` reads a getter only when it is used, so the imports are served
// from it: a module with every other export, each read once, as the named import would.
import { createRequire } from 'node:module';
import type { Plugin } from 'esbuild';

const NAMESPACE = 'kube-irsa-http-without-undici';

/** The exports of node:http that are plain values (the getters load undici or read state late). */
function plainExports(): string[] {
  const http = createRequire(import.meta.url)('node:http') as Record<string, unknown>;
  return Object.keys(http).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && !Object.getOwnPropertyDescriptor(http, k)?.get);
}

export function httpWithoutUndici(): Plugin {
  return {
    name: 'http-without-undici',
    setup(build) {
      // only ES module importers: a require() stays as it is (lazy already)
      build.onResolve({ filter: /^(node:)?http$/ }, (args) => (args.kind === 'import-statement' || args.kind === 'dynamic-import'
        ? { path: 'node:http', namespace: NAMESPACE } : undefined));
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, () => {
        const names = plainExports();
        return {
          loader: 'js',
          contents: [
            "import { createRequire } from 'node:module';",
            "const http = createRequire(import.meta.url)('node:http');",
            'export default http;',
            // the getters that read state (globalAgent, maxHeaderSize) stay live through the default export
            `export const { ${names.join(', ')} } = http;`,
          ].join('\n'),
        };
      });
    },
  };
}
