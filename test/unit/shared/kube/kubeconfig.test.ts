// Finding the API server as kubectl does, through client-node's KubeConfig: --kubeconfig, the
// $KUBECONFIG list merged (first wins), ~/.kube/config, in-cluster, --context, --kube-api, and the
// proxy from HTTPS_PROXY/NO_PROXY; a clear error for everything refused.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { contextNamespace, KubeConfigError, loadKubeConfig } from '../../../../shared/kube/config.ts';
import { proxyForServer } from '../../../../shared/kube/proxy-env.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kube-irsa-kubeconfig-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const noEnv = {} as NodeJS.ProcessEnv;

/** A kubeconfig with one context per entry of `contexts` (name → server), the first current unless said. */
async function kubeconfig(name: string, contexts: Record<string, string>, extra: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(dir, name);
  const names = Object.keys(contexts);
  await writeFile(file, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': names[0],
    clusters: names.map((n) => ({ name: `${n}-cluster`, cluster: { server: contexts[n] } })),
    users: names.map((n) => ({ name: `${n}-user`, user: { token: `${n}-token` } })),
    contexts: names.map((n) => ({ name: n, context: { cluster: `${n}-cluster`, user: `${n}-user`, namespace: `${n}-ns` } })),
    ...extra,
  }));
  return file;
}

describe('kubeconfig loading', () => {
  test('--kubeconfig reads that file only; --context picks another context and its namespace', async () => {
    const file = await kubeconfig('two.yaml', { a: 'https://a.example:6443', b: 'https://b.example:6443' });
    const kc = loadKubeConfig({ kubeconfig: file, env: { KUBECONFIG: '/nonexistent' } });
    assert.equal(kc.getCurrentCluster()?.server, 'https://a.example:6443');
    assert.equal(contextNamespace(kc), 'a-ns');
    const b = loadKubeConfig({ kubeconfig: file, context: 'b', env: noEnv });
    assert.equal(b.getCurrentCluster()?.server, 'https://b.example:6443');
    assert.equal(b.getCurrentUser()?.token, 'b-token');
    assert.throws(() => loadKubeConfig({ kubeconfig: file, context: 'c', env: noEnv }), (e: Error) => e instanceof KubeConfigError && /context "c" is not defined/.test(e.message));
  });

  test('$KUBECONFIG merges its files: the first to name a context or the current context wins; missing files are skipped', async () => {
    const first = await kubeconfig('first.yaml', { one: 'https://one:1', shared: 'https://first-shared:1' });
    const second = await kubeconfig('second.yaml', { two: 'https://two:2', shared: 'https://second-shared:2' });
    const env = { KUBECONFIG: [path.join(dir, 'missing.yaml'), first, second].join(path.delimiter) };
    const kc = loadKubeConfig({ env });
    assert.equal(kc.getCurrentContext(), 'one');
    assert.equal(loadKubeConfig({ env, context: 'two' }).getCurrentCluster()?.server, 'https://two:2');
    assert.equal(loadKubeConfig({ env, context: 'shared' }).getCurrentCluster()?.server, 'https://first-shared:1');
  });

  test('~/.kube/config when nothing else is named; in-cluster after it; nothing at all is a clear error', async () => {
    const home = path.join(dir, 'home');
    await mkdir(path.join(home, '.kube'), { recursive: true });
    await copyFile(path.join(dir, 'two.yaml'), path.join(home, '.kube', 'config'));
    assert.equal(loadKubeConfig({ env: { HOME: home } }).getCurrentCluster()?.server, 'https://a.example:6443');

    const sa = path.join(dir, 'pod');
    await mkdir(path.join(sa, 'var/run/secrets/kubernetes.io/serviceaccount'), { recursive: true });
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
    process.env.KUBERNETES_SERVICE_PORT = '6443';
    try {
      const kc = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', HOME: path.join(dir, 'nohome') }, inClusterRoot: sa });
      assert.equal(kc.getCurrentCluster()?.server, 'https://[fd00::1]:6443');
      assert.equal(kc.getCurrentCluster()?.caFile, path.join(sa, 'var/run/secrets/kubernetes.io/serviceaccount/ca.crt'));
    } finally {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    assert.throws(() => loadKubeConfig({ env: { HOME: path.join(dir, 'nohome') } }), (e: Error) => e instanceof KubeConfigError && /no Kubernetes API server: pass --kubeconfig/.test(e.message));
  });

  test('--kube-api replaces the server; alone it connects anonymously; a non-http(s) URL is refused', async () => {
    const file = await kubeconfig('override.yaml', { a: 'https://a:1' });
    assert.equal(loadKubeConfig({ kubeconfig: file, kubeApi: 'https://other:8443', env: noEnv }).getCurrentCluster()?.server, 'https://other:8443');
    const anon = loadKubeConfig({ kubeApi: 'https://127.0.0.1:6443', env: noEnv });
    assert.equal(anon.getCurrentCluster()?.server, 'https://127.0.0.1:6443');
    assert.equal(anon.getCurrentUser()?.token, undefined);
    assert.throws(() => loadKubeConfig({ kubeApi: 'ftp://x', env: noEnv }), /--kube-api: "ftp:\/\/x" is not an http\(s\) URL/);
  });

  test('broken kubeconfigs are refused by name', async () => {
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'clusters: [\n');
    assert.throws(() => loadKubeConfig({ kubeconfig: path.join(dir, 'absent.yaml'), env: noEnv }), /cannot load the Kubernetes client configuration from .*absent\.yaml.*ENOENT/);
    assert.throws(() => loadKubeConfig({ kubeconfig: bad, env: noEnv }), /cannot load the Kubernetes client configuration from .*bad\.yaml/);
    const unknown = await kubeconfig('unknown-ctx.yaml', { a: 'https://a:1' }, { 'current-context': 'other' });
    assert.throws(() => loadKubeConfig({ kubeconfig: unknown, env: noEnv }), /has no current context \("other" is not defined\); pass --context/);
  });

  test('HTTPS_PROXY fills proxy-url unless the kubeconfig has one; NO_PROXY and loopback stay direct', async () => {
    const file = await kubeconfig('proxy.yaml', { a: 'https://api.example:6443' });
    assert.equal(loadKubeConfig({ kubeconfig: file, env: { HTTPS_PROXY: 'http://proxy:3128' } }).getCurrentCluster()?.proxyUrl, 'http://proxy:3128');
    assert.equal(loadKubeConfig({ kubeconfig: file, env: { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: '.example' } }).getCurrentCluster()?.proxyUrl, undefined);
    const own = path.join(dir, 'own-proxy.yaml');
    await writeFile(own, stringify({ 'current-context': 'a', clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', 'proxy-url': 'http://own:1' } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'a', context: { cluster: 'c', user: 'u' } }] }));
    assert.equal(loadKubeConfig({ kubeconfig: own, env: { HTTPS_PROXY: 'http://proxy:3128' } }).getCurrentCluster()?.proxyUrl, 'http://own:1');
  });
});

describe('the proxy kubectl would use', () => {
  const env = { HTTPS_PROXY: 'http://proxy:3128', http_proxy: 'proxy-plain:8080' };
  test('scheme decides the variable; a proxy without a scheme is http', () => {
    assert.equal(proxyForServer('https://api.example:6443', env), 'http://proxy:3128');
    assert.equal(proxyForServer('http://api.example:8080', env), 'http://proxy-plain:8080');
    assert.equal(proxyForServer('https://api.example:6443', noEnv), undefined);
  });
  test('localhost and loopback are never proxied; NO_PROXY hosts, domains, CIDRs, ports and * are not', () => {
    for (const server of ['https://localhost:6443', 'https://127.0.0.1:6443', 'https://[::1]:6443']) assert.equal(proxyForServer(server, env), undefined, server);
    const cases: Array<[string, string, boolean]> = [
      ['api.example', 'https://api.example:6443', false],
      ['example', 'https://api.example:6443', false],
      ['.example', 'https://api.example:6443', false],
      ['other.example', 'https://api.example:6443', true],
      ['10.0.0.0/8', 'https://10.1.2.3:6443', false],
      ['10.0.0.0/8', 'https://192.168.1.1:6443', true],
      ['api.example:443', 'https://api.example:6443', true],
      ['api.example:6443', 'https://api.example:6443', false],
      ['*', 'https://anything:1', false],
    ];
    for (const [noProxy, server, proxied] of cases) {
      assert.equal(proxyForServer(server, { ...env, no_proxy: noProxy }) !== undefined, proxied, `${noProxy} ${server}`);
    }
  });
});
