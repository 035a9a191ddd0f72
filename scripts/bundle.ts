// The product as the image ships it: esbuild bundles each entry point — the CLI and the webhook's
// worker thread — with every dependency into minified ES modules (commands split into chunks loaded
// when used, so `kube-irsa agent` never loads the webhook), with source maps for readable stack
// traces (the launcher runs them with --enable-source-maps). A bundle loads a fraction of the
// memory the same modules cost from node_modules (@kubernetes/client-node: ~80 MiB unbundled;
// README "Benchmarks"), and the image needs no node_modules at all.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';

const ROOT = path.join(import.meta.dirname, '..');

/** Bundles into `<outDir>/bin/` (replacing outDir); returns esbuild's metafile. */
export async function bundle(outDir: string): Promise<Metafile> {
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { 'kube-irsa': 'bin/kube-irsa.ts', 'worker-thread': 'webhook/worker-thread.ts' },
    outdir: path.join(outDir, 'bin'),
    // chunks beside the entries: webhook/workers.ts finds ./worker-thread.js next to itself
    chunkNames: 'chunk-[hash]',
    bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node24',
    minify: true, sourcemap: true, legalComments: 'linked', metafile: true, logLevel: 'warning',
    // CommonJS dependencies call require() for Node's own modules, and a few read __dirname
    banner: {
      js: "import { createRequire as __kiCreateRequire } from 'node:module'; import { fileURLToPath as __kiPath } from 'node:url'; "
        + "const require = __kiCreateRequire(import.meta.url); const __filename = __kiPath(import.meta.url); const __dirname = __kiPath(new URL('.', import.meta.url));",
    },
    // optional native speed-ups of ws that client-node's dependencies try to load; absent is fine
    external: ['bufferutil', 'utf-8-validate'],
  });
  // the bundles are ES modules: say so, as the project's package.json does
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'package.json'), `${JSON.stringify({ name: 'kube-irsa', private: true, type: 'module' })}\n`);
  return result.metafile;
}

if (import.meta.main) {
  const out = process.argv[2] ?? path.join(ROOT, 'build', 'app');
  const meta = await bundle(out);
  const sizes = Object.entries(meta.outputs).filter(([f]) => f.endsWith('.js')).map(([f, o]) => `${path.relative(ROOT, f)} ${(o.bytes / 1024).toFixed(0)} KiB`);
  process.stdout.write(`bundled into ${out}:\n  ${sizes.join('\n  ')}\n`);
}
