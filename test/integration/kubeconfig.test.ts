// `kube-irsa doctor ns/sa` finds the API server as kubectl does, against the real API server: only
// $KUBECONFIG set; a two-file $KUBECONFIG with --context choosing the second file's context;
// ~/.kube/config; an exec credential plugin; impersonation with as-groups, as-uid and as-user-extra
// (which client-node alone drops); and through an HTTPS proxy (HTTPS_PROXY, a CONNECT
// proxy on loopback that counts the tunnels it opened). Each run reads the ServiceAccount, mints a
// token with TokenRequest and reaches the probe (STS is unreachable on purpose: exit 3), so every
// API call of doctor went through the configuration under test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AuthenticationV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { loadKubeConfig } from '../../shared/kube/config.ts';
import { freePorts, startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';

const CLI = path.join(import.meta.dirname, '..', '..', 'bin', 'kube-irsa');
const NS = 'kubeconfig-test';
const SA = 'orders';
const ROLE = 'arn:aws:iam::111122223333:role/orders';

interface Run { code: number; out: string; err: string }

describe('doctor finds the API server as kubectl does', () => {
  let cp: ControlPlane;
  let dir: string;
  let closedPort: number;
  let adminToken: string;
  let pluginToken: string;

  before(async () => {
    cp = await startControlPlane({ users: [{ name: 'plugin-user', groups: ['system:masters'] }] });
    dir = await mkdtemp(path.join(tmpdir(), 'kube-irsa-kubeconfig-it-'));
    [closedPort = 0] = await freePorts(1);
    adminToken = cp.kubeConfig.getCurrentUser()?.token ?? '';
    pluginToken = cp.kubeConfigFor('plugin-user').getCurrentUser()?.token ?? '';
    assert.ok(adminToken && pluginToken);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: SA, annotations: { 'eks.amazonaws.com/role-arn': ROLE } } } });
    await writeFile(path.join(dir, 'ca.crt'), cp.ca.certPem);
  });

  after(async () => {
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A kubeconfig with one context `name` for `server`, authenticating with `user`. */
  async function kubeconfigFile(file: string, name: string, server: string, user: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
    const full = path.join(dir, file);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': name,
      clusters: [{ name: `${name}-cluster`, cluster: { server, 'certificate-authority': path.join(dir, 'ca.crt') } }],
      users: [{ name: `${name}-user`, user }],
      contexts: [{ name, context: { cluster: `${name}-cluster`, user: `${name}-user` } }],
      ...extra,
    }), { mode: 0o600 });
    return full;
  }

  /** `kube-irsa doctor <args>` in a process whose environment is exactly `env` (plus PATH). */
  function doctor(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(CLI, ['doctor', ...args, `--issuer-ca-file=${path.join(dir, 'ca.crt')}`, `--sts-endpoint=http://127.0.0.1:${closedPort}`, '--region=us-east-1'],
        { env: { PATH: process.env.PATH ?? '', HOME: path.join(dir, 'empty-home'), ...env }, timeout: 60_000 },
        (err, out, errText) => resolve({ code: typeof err?.code === 'number' ? err.code : err ? -1 : 0, out, err: errText }));
    });
  }

  /** Doctor read the ServiceAccount, minted its token and probed: only STS was out of reach. */
  function assertReachedTheProbe(r: Run): void {
    assert.equal(r.code, 3, `exit ${r.code}\n${r.out}\n${r.err}`);
    assert.match(r.out, new RegExp(`ServiceAccount: ${NS}/${SA} \\(role from`));
    assert.match(r.out, /Token: iss=\S+ sub=system:serviceaccount:kubeconfig-test:orders aud=sts\.amazonaws\.com/);
    assert.match(r.out, /Result: STSUnreachable \(inconclusive\)/);
  }

  test('only $KUBECONFIG set', async () => {
    const file = await kubeconfigFile('only/config', 'only', cp.server, { token: adminToken });
    assertReachedTheProbe(await doctor({ KUBECONFIG: file }, `${NS}/${SA}`));
  });

  test('a two-file $KUBECONFIG: the first file\'s context is current, --context chooses the second\'s', async () => {
    const first = await kubeconfigFile('two/first', 'broken', `https://127.0.0.1:${closedPort}`, { token: 'nobody' });
    const second = await kubeconfigFile('two/second', 'working', cp.server, { token: adminToken });
    const env = { KUBECONFIG: [first, second].join(path.delimiter) };
    const current = await doctor(env, `${NS}/${SA}`);
    assert.equal(current.code, 1);
    assert.match(current.err, new RegExp(`cannot read ServiceAccount ${NS}/${SA}: .*ECONNREFUSED`));
    assertReachedTheProbe(await doctor(env, '--context', 'working', `${NS}/${SA}`));
  });

  test('~/.kube/config, and the context\'s namespace when none is named', async () => {
    const home = path.join(dir, 'home');
    await kubeconfigFile('home/.kube/config', 'home', cp.server, { token: adminToken });
    assertReachedTheProbe(await doctor({ HOME: home }, `${NS}/${SA}`));
    await kubeconfigFile('home-ns/.kube/config', 'home', cp.server, { token: adminToken }, {
      contexts: [{ name: 'home', context: { cluster: 'home-cluster', user: 'home-user', namespace: NS } }],
    });
    assertReachedTheProbe(await doctor({ HOME: path.join(dir, 'home-ns') }, SA));
  });

  test('a user\'s tokenFile, relative to its kubeconfig, as kubectl reads it', async () => {
    const file = await kubeconfigFile('token-file/config', 'token-file', cp.server, { tokenFile: 'token' });
    await writeFile(path.join(dir, 'token-file', 'token'), `${adminToken}\n`, { mode: 0o600 });
    assertReachedTheProbe(await doctor({ KUBECONFIG: file }, `${NS}/${SA}`));
    const missing = await kubeconfigFile('token-file-missing/config', 'missing', cp.server, { tokenFile: 'nowhere' });
    const run = await doctor({ KUBECONFIG: missing }, `${NS}/${SA}`);
    assert.equal(run.code, 1);
    assert.match(run.err, /user "missing-user" tokenFile nowhere: ENOENT/);
  });

  test('an exec credential plugin', async () => {
    const plugin = path.join(dir, 'credential-plugin.sh');
    const calls = path.join(dir, 'plugin-calls');
    const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: pluginToken } });
    await writeFile(plugin, `#!/bin/sh\necho called >> '${calls}'\ncat <<'EOF'\n${credential}\nEOF\n`);
    await chmod(plugin, 0o700);
    const file = await kubeconfigFile('exec/config', 'exec', cp.server, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } });
    assertReachedTheProbe(await doctor({ KUBECONFIG: file }, `${NS}/${SA}`));
    const { readFile } = await import('node:fs/promises');
    assert.ok((await readFile(calls, 'utf8')).includes('called'), 'the plugin ran');
  });

  test('an exec credential plugin that asks for the cluster (provideClusterInfo) gets KUBERNETES_EXEC_INFO, as from kubectl', async () => {
    const { readFile } = await import('node:fs/promises');
    const plugin = path.join(dir, 'cluster-info-plugin.sh');
    const seen = path.join(dir, 'exec-info.json');
    const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: pluginToken } });
    await writeFile(plugin, `#!/bin/sh\nprintf '%s' "$KUBERNETES_EXEC_INFO" > '${seen}'\ncat <<'EOF'\n${credential}\nEOF\n`);
    await chmod(plugin, 0o700);
    const file = await kubeconfigFile('exec-info/config', 'exec-info', cp.server, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never', provideClusterInfo: true } });
    assertReachedTheProbe(await doctor({ KUBECONFIG: file }, `${NS}/${SA}`));
    const info = JSON.parse(await readFile(seen, 'utf8')) as { kind: string; spec: { interactive: boolean; cluster: Record<string, unknown> } };
    assert.equal(info.kind, 'ExecCredential');
    assert.equal(info.spec.interactive, false);
    assert.equal(info.spec.cluster.server, cp.server);
    assert.equal(Buffer.from(String(info.spec.cluster['certificate-authority-data']), 'base64').toString(), await readFile(path.join(dir, 'ca.crt'), 'utf8'), 'the cluster\'s CA, from certificate-authority');
  });

  test('through an HTTPS proxy (HTTPS_PROXY): the requests go through a CONNECT tunnel; NO_PROXY bypasses it', async () => {
    const apiPort = new URL(cp.server).port;
    const tunnels: string[] = [];
    // the proxy resolves the API server's name itself (to loopback), as a corporate proxy would;
    // the client never could: "kubernetes" is not a name this machine resolves
    const proxy = http.createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const upstream = net.connect(Number(apiPort), '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
      const file = await kubeconfigFile('proxy/config', 'proxied', `https://kubernetes:${apiPort}`, { token: adminToken });
      const direct = await doctor({ KUBECONFIG: file }, `${NS}/${SA}`);
      assert.equal(direct.code, 1, 'without the proxy the name does not resolve');
      assert.equal(tunnels.length, 0);
      assertReachedTheProbe(await doctor({ KUBECONFIG: file, HTTPS_PROXY: proxyUrl }, `${NS}/${SA}`));
      // the calls share one keep-alive tunnel; none could go direct (the name does not resolve here)
      assert.ok(tunnels.length >= 1, 'the ServiceAccount read and the TokenRequest went through the proxy');
      assert.ok(tunnels.every((t) => t === `kubernetes:${apiPort}`), tunnels.join(', '));
      // NO_PROXY naming the server: direct again, so the name does not resolve and no tunnel opens
      const before = tunnels.length;
      const bypass = await doctor({ KUBECONFIG: file, HTTPS_PROXY: proxyUrl, NO_PROXY: 'kubernetes' }, `${NS}/${SA}`);
      assert.equal(bypass.code, 1);
      assert.equal(tunnels.length, before);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
  test('impersonation: as-groups, as-uid and as-user-extra reach the API server as kubectl sends them (client-node alone sends only as)', async () => {
    // the group, not the impersonated user, is what may read: only its header makes doctor work
    const rbac = cp.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRoleBinding({ body: {
      metadata: { name: 'irsa-readers-admin' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'irsa-readers' }],
    } });
    const userOnly = await kubeconfigFile('as/user-only', 'as-user', cp.server, { token: adminToken, as: 'jane' });
    const denied = await doctor({ KUBECONFIG: userOnly }, `${NS}/${SA}`);
    assert.equal(denied.code, 1, denied.err);
    assert.match(denied.err, /forbidden|403/i);
    const withGroups = await kubeconfigFile('as/groups', 'as-groups', cp.server, {
      token: adminToken, as: 'jane', 'as-groups': ['irsa-readers', 'auditors'], 'as-uid': 'uid-1234', 'as-user-extra': { reason: ['incident 42', 'on call'] },
    });
    assertReachedTheProbe(await doctor({ KUBECONFIG: withGroups }, `${NS}/${SA}`));
    // what the API server understood, through the same client setup (kubectl auth whoami's call)
    const kc = loadKubeConfig({ env: { KUBECONFIG: withGroups } });
    try {
      const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
      const who = review.status?.userInfo;
      assert.equal(who?.username, 'jane');
      assert.equal(who?.uid, 'uid-1234');
      assert.deepEqual([...(who?.groups ?? [])].filter((g) => g !== 'system:authenticated').sort(), ['auditors', 'irsa-readers']);
      assert.deepEqual(who?.extra?.reason, ['incident 42', 'on call']);
    } finally {
      await kc.close();
    }
    const noUser = await kubeconfigFile('as/no-user', 'as-no-user', cp.server, { token: adminToken, 'as-groups': ['irsa-readers'] });
    const refused = await doctor({ KUBECONFIG: noUser }, `${NS}/${SA}`);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /user "as-no-user-user" sets as-groups, as-uid or as-user-extra without "as"/);
  });
});
