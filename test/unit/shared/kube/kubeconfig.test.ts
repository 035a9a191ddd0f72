// Loading the API server connection: kubeconfig fields as client-go reads them, the in-cluster
// ServiceAccount, --kube-api, exec credential plugins, and a clear error for everything refused.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { KubeConnectionError, loadKubeConnection } from '../../../../shared/kube/kubeconfig.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kube-irsa-kubeconfig-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const noEnv = {} as NodeJS.ProcessEnv;

async function kubeconfig(name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://127.0.0.1:6443' }, extra: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'ctx',
    clusters: [{ name: 'c', cluster }], users: [{ name: 'u', user }], contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    ...extra,
  }));
  return file;
}

describe('kubeconfig loading', () => {
  test('a token user with an inline CA: server, CA and bearer token', async () => {
    const file = await kubeconfig('token.yaml', { token: 'abc' }, { server: 'https://10.0.0.1:6443/prefix', 'certificate-authority-data': Buffer.from('CA PEM').toString('base64'), 'tls-server-name': 'kubernetes' });
    const c = loadKubeConnection({ kubeconfig: file, env: noEnv });
    assert.equal(c.server.href, 'https://10.0.0.1:6443/prefix');
    assert.deepEqual(c.tls, { rejectUnauthorized: true, ca: 'CA PEM', servername: 'kubernetes' });
    assert.equal(await c.credentials.authorization(), 'Bearer abc');
    assert.equal(c.impersonate, undefined);
  });

  test('files are resolved against the kubeconfig\'s directory; client certificates need both halves', async () => {
    await writeFile(path.join(dir, 'client.crt'), 'CERT');
    await writeFile(path.join(dir, 'client.key'), 'KEY');
    await writeFile(path.join(dir, 'ca.crt'), 'CA');
    const file = await kubeconfig('certs.yaml', { 'client-certificate': 'client.crt', 'client-key': 'client.key' }, { server: 'https://h:1', 'certificate-authority': 'ca.crt' });
    const c = loadKubeConnection({ kubeconfig: file, env: noEnv });
    assert.deepEqual(c.tls, { rejectUnauthorized: true, ca: 'CA', cert: 'CERT', key: 'KEY' });
    assert.equal(await c.credentials.authorization(), undefined);

    const half = await kubeconfig('half.yaml', { 'client-certificate': 'client.crt' });
    assert.throws(() => loadKubeConnection({ kubeconfig: half, env: noEnv }), /needs both client-certificate and client-key/);
    const missing = await kubeconfig('missing.yaml', { 'client-certificate': 'nope.crt', 'client-key': 'client.key' });
    assert.throws(() => loadKubeConnection({ kubeconfig: missing, env: noEnv }), /cannot read user\.client-certificate .*nope\.crt.*ENOENT/);
  });

  test('basic auth, insecure-skip-tls-verify and impersonation (as, as-groups)', async () => {
    const file = await kubeconfig('basic.yaml', { username: 'admin', password: 's3cret', as: 'system:serviceaccount:ns:sa', 'as-groups': ['g1', 'g2'] }, { server: 'https://h:1', 'insecure-skip-tls-verify': true });
    const c = loadKubeConnection({ kubeconfig: file, env: noEnv });
    assert.equal(c.tls.rejectUnauthorized, false);
    assert.equal(await c.credentials.authorization(), `Basic ${Buffer.from('admin:s3cret').toString('base64')}`);
    assert.deepEqual(c.impersonate, { user: 'system:serviceaccount:ns:sa', groups: ['g1', 'g2'] });
  });

  test('--kube-api overrides the kubeconfig\'s server', async () => {
    const file = await kubeconfig('override.yaml', { token: 't' });
    assert.equal(loadKubeConnection({ kubeconfig: file, kubeApi: 'https://other:8443', env: noEnv }).server.href, 'https://other:8443/');
  });

  test('a token file is read again after a 401 (rotation), not on every request', async () => {
    const tokenFile = path.join(dir, 'rotating-token');
    await writeFile(tokenFile, 'first\n');
    const file = await kubeconfig('tokenfile.yaml', { tokenFile: 'rotating-token' });
    const { credentials } = loadKubeConnection({ kubeconfig: file, env: noEnv });
    assert.equal(await credentials.authorization(), 'Bearer first');
    await writeFile(tokenFile, 'second\n');
    assert.equal(await credentials.authorization(), 'Bearer first');
    credentials.invalidate();
    assert.equal(await credentials.authorization(), 'Bearer second');
  });

  test('in-cluster: the service host and port, the mounted CA and token; IPv6 hosts in brackets', async () => {
    const sa = path.join(dir, 'serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(path.join(sa, 'ca.crt'), 'CLUSTER CA');
    await writeFile(path.join(sa, 'token'), 'pod-token');
    const c = loadKubeConnection({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    assert.equal(c.server.href, 'https://10.96.0.1/');
    assert.deepEqual(c.tls, { rejectUnauthorized: true, ca: 'CLUSTER CA' });
    assert.equal(await c.credentials.authorization(), 'Bearer pod-token');
    const v6 = loadKubeConnection({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, serviceAccountDir: sa });
    assert.equal(v6.server.href, 'https://[fd00::1]:6443/');
    assert.throws(() => loadKubeConnection({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, serviceAccountDir: path.join(dir, 'nowhere') }), /cannot read the in-cluster CA/);
  });

  test('--kube-api alone connects anonymously; nothing at all is a clear error', async () => {
    const c = loadKubeConnection({ kubeApi: 'https://127.0.0.1:6443', env: noEnv });
    assert.equal(c.server.host, '127.0.0.1:6443');
    assert.equal(await c.credentials.authorization(), undefined);
    assert.throws(() => loadKubeConnection({ env: noEnv }), (err: Error) => err instanceof KubeConnectionError && /no Kubernetes API server: pass --kubeconfig/.test(err.message));
    assert.throws(() => loadKubeConnection({ kubeApi: 'ftp://x', env: noEnv }), /must be an http\(s\) URL/);
  });

  test('broken or unsupported kubeconfigs are refused by name', async () => {
    const cases: Array<[string, () => Promise<string>, RegExp]> = [
      ['not found', () => Promise.resolve(path.join(dir, 'absent.yaml')), /cannot read the kubeconfig .*absent\.yaml.*ENOENT/],
      ['not YAML', async () => { const f = path.join(dir, 'bad.yaml'); await writeFile(f, 'clusters: [\n'); return f; }, /cannot load the Kubernetes client configuration from .*bad\.yaml/],
      ['empty', async () => { const f = path.join(dir, 'empty.yaml'); await writeFile(f, ''); return f; }, /is empty or not a mapping/],
      ['unknown context', () => kubeconfig('ctx.yaml', { token: 't' }, { server: 'https://h:1' }, { 'current-context': 'other' }), /no current cluster \(context "other" is not defined\)/],
      ['no server', () => kubeconfig('noserver.yaml', { token: 't' }, {}), /cluster\.server is missing/],
      ['proxy', () => kubeconfig('proxy.yaml', { token: 't' }, { server: 'https://h:1', 'proxy-url': 'http://proxy:3128' }), /proxy-url is not supported/],
      ['auth-provider', () => kubeconfig('authp.yaml', { 'auth-provider': { name: 'gcp' } }), /auth-provider .* is not supported; use an exec credential plugin/],
      ['token not a string', () => kubeconfig('tokennum.yaml', { token: 42 }), /user\.token must be a string/],
      ['exec without command', () => kubeconfig('exec0.yaml', { exec: { apiVersion: 'client.authentication.k8s.io/v1' } }), /user\.exec\.command is missing/],
    ];
    for (const [name, make, expected] of cases) {
      const file = await make();
      assert.throws(() => loadKubeConnection({ kubeconfig: file, env: noEnv }), (err: Error) => err instanceof KubeConnectionError && expected.test(err.message), name);
    }
  });
});

describe('exec credential plugins', () => {
  /** A plugin that records its invocations and ExecCredential input, and prints what it is told. */
  async function plugin(name: string, output: string, exitCode = 0): Promise<{ file: string; calls: () => Promise<string[]> }> {
    const script = path.join(dir, `${name}.sh`);
    const log = path.join(dir, `${name}.log`);
    await writeFile(script, `#!/bin/sh\nprintf '%s|%s\\n' "$PLUGIN_FLAVOUR" "$KUBERNETES_EXEC_INFO" >> '${log}'\ncat <<'EOF'\n${output}\nEOF\nexit ${exitCode}\n`);
    await chmod(script, 0o755);
    return { file: script, calls: async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean) };
  }

  test('the token is cached until it expires or a 401 invalidates it; the plugin gets ExecCredential info and its env', async () => {
    const p = await plugin('token', JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-plugin', expirationTimestamp: new Date(Date.now() + 3_600_000).toISOString() } }));
    const file = await kubeconfig('exec.yaml', { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: `./${path.basename(p.file)}`, args: [], env: [{ name: 'PLUGIN_FLAVOUR', value: 'vanilla' }] } });
    const { credentials } = loadKubeConnection({ kubeconfig: file, env: noEnv });
    const [a, b] = await Promise.all([credentials.authorization(), credentials.authorization()]);
    assert.equal(a, 'Bearer from-plugin');
    assert.equal(b, 'Bearer from-plugin');
    assert.equal((await p.calls()).length, 1);
    credentials.invalidate();
    await credentials.authorization();
    const calls = await p.calls();
    assert.equal(calls.length, 2);
    const [flavour, info = ''] = calls[0]!.split('|');
    assert.equal(flavour, 'vanilla');
    assert.deepEqual(JSON.parse(info), { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive: false, cluster: { server: 'https://127.0.0.1:6443' } } });
  });

  test('an expired credential runs the plugin again', async () => {
    const p = await plugin('expired', JSON.stringify({ status: { token: 't', expirationTimestamp: new Date(Date.now() - 1000).toISOString() } }));
    const { credentials } = loadKubeConnection({ kubeconfig: await kubeconfig('exec-expired.yaml', { exec: { command: p.file } }), env: noEnv });
    await credentials.authorization();
    await credentials.authorization();
    assert.equal((await p.calls()).length, 2);
  });

  test('failing, silent or certificate-only plugins are errors that name the plugin', async () => {
    const failing = await plugin('failing', 'please log in', 3);
    const garbage = await plugin('garbage', 'not json');
    const certOnly = await plugin('cert', JSON.stringify({ status: { clientCertificateData: 'PEM', clientKeyData: 'KEY' } }));
    const expectations: Array<[string, RegExp]> = [
      [failing.file, /exec credential plugin .*failing\.sh failed \(exit code 3\)/],
      [garbage.file, /did not print an ExecCredential/],
      [certOnly.file, /returned a client certificate; only token-returning plugins are supported/],
      [path.join(dir, 'no-such-plugin'), /cannot run the exec credential plugin .*no-such-plugin: ENOENT/],
    ];
    for (const [command, expected] of expectations) {
      const { credentials } = loadKubeConnection({ kubeconfig: await kubeconfig(`exec-${path.basename(command)}.yaml`, { exec: { command } }), env: noEnv });
      await assert.rejects(credentials.authorization(), expected);
    }
  });
});
