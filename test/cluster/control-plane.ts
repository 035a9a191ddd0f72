// A real Kubernetes control plane for tests and the demo: etcd and kube-apiserver on free loopback
// ports, RBAC, a token-authenticated admin, an https service-account issuer whose OIDC discovery
// and JWKS are readable anonymously, TokenRequest, and admission webhooks. By default no controller
// manager, scheduler or kubelet: pods stay Pending, which is all the webhook and agent need. The
// real-node cluster (test/node/) runs it inside its private network namespace with
// kube-controller-manager and kube-scheduler, the Node authorizer and a kubelet client certificate.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { ensureBinaries } from './binaries.ts';
import { httpsRequest } from './https.ts';
import { KUBERNETES_SERVICE_IP, NODE_IP, SERVICE_CIDR, type PrivateNetwork } from '../node/network.ts';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from './pki.ts';
import { isAlive, startProcess, writeOwnerFile, type ManagedProcess } from './process.ts';
import { stopOnSignal } from './stop-on-signal.ts';

export interface ControlPlaneUser {
  readonly name: string;
  readonly groups?: readonly string[];
}

export interface ControlPlaneOptions {
  /** Folder with kube-apiserver and etcd; built or taken from KUBEBUILDER_ASSETS when absent. */
  readonly binDir?: string;
  /** Extra token-authenticated users, for RBAC tests (the token file is read once, at start). */
  readonly users?: readonly ControlPlaneUser[];
  readonly extraApiServerArgs?: readonly string[];
  /** Where the control plane's folder goes; default /dev/shm (etcd is much faster on tmpfs). */
  readonly parentDir?: string;
  readonly startTimeoutMs?: number;
  /**
   * Runs inside this private network as a real cluster's control plane: the API server on the
   * node's address and the `kubernetes` ClusterIP, port 443 (pods reach it as in any cluster), the
   * issuer `https://<node address>`, kube-controller-manager and kube-scheduler. The test's clients
   * reach it through a bridge on the machine's loopback.
   */
  readonly network?: PrivateNetwork;
}

export interface ControlPlane {
  /** Temp folder holding certificates, etcd data, logs and the kubeconfig; removed by stop(). */
  readonly dir: string;
  readonly server: string;
  /** The service-account issuer, https: the API server as programs inside the cluster reach it. */
  readonly issuer: string;
  readonly ca: CertificateAuthority;
  readonly kubeconfigPath: string;
  /** Admin (system:masters) client configuration. */
  readonly kubeConfig: KubeConfig;
  readonly apiServerLog: string;
  readonly etcdLog: string;
  /** The API server as programs inside the cluster's network reach it (equal to `server` without a private network). */
  readonly internalServer: string;
  /** Writes a kubeconfig for a declared user (or the admin) for programs inside the cluster's network. */
  writeInternalKubeconfig(file: string, user?: string): Promise<void>;
  /** Client configuration authenticating as one of the `users` given at start. */
  kubeConfigFor(user: string): KubeConfig;
  /** Admin client configuration that impersonates `user` (a ServiceAccount user gets its groups). */
  impersonating(user: string): KubeConfig;
  /** Stops kube-apiserver (etcd keeps the data), waits `downMs`, starts it again on the same port. */
  restartApiServer(downMs?: number): Promise<void>;
  /** Stops both processes and removes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

const OWNER_FILE = 'owner.pid';
const DIR_PREFIX = 'kube-irsa-cp-';

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = opts.binDir ?? (await ensureBinaries(opts.network
    ? ['kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler']
    : ['kube-apiserver', 'etcd']));
  const parent = opts.parentDir ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
  sweepAbandonedFolders(parent);
  const dir = await mkdtemp(path.join(parent, DIR_PREFIX));
  await writeOwnerFile(dir);

  const procs: ManagedProcess[] = [];
  let stopped = false;
  // stop() is the one clean-up path, also on SIGINT/SIGTERM, even for an interrupted start
  const unregister = stopOnSignal({ stop: () => stop() });
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    unregister();
    // every test's Events and IRSACheck statuses are scanned once, here, for leaked secrets
    const leaks = plane ? await scanForSecrets(plane.kubeConfig).catch(() => []) : [];
    // apiserver first so it does not log a storm of etcd errors
    for (const p of [...procs].reverse()) await p.stop();
    await rm(dir, { recursive: true, force: true });
    if (leaks.length > 0) throw new Error(`secrets found in the cluster's Events or IRSAChecks: ${leaks.join('; ')}`);
  };
  let plane: ControlPlane | undefined;

  try {
    const pki = path.join(dir, 'pki');
    await mkdir(pki);
    const ca = await createCertificateAuthority(pki);
    const serving = await issueCertificate(ca, pki, {
      name: 'apiserver', commonName: 'kube-apiserver',
      ips: ['127.0.0.1', ...(opts.network ? [NODE_IP, KUBERNETES_SERVICE_IP] : [])],
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    });
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const saKey = path.join(pki, 'sa.key');
    await writeFile(saKey, privateKey, { mode: 0o600 });

    const adminToken = randomBytes(24).toString('hex');
    const userTokens = new Map<string, string>();
    const tokenLines = [`${adminToken},admin,admin-uid,"system:masters"`];
    for (const u of opts.users ?? []) {
      const t = randomBytes(24).toString('hex');
      userTokens.set(u.name, t);
      tokenLines.push(`${t},${u.name},${u.name}-uid,"${(u.groups ?? []).join(',')}"`);
    }
    const tokenFile = path.join(pki, 'tokens.csv');
    await writeFile(tokenFile, tokenLines.join('\n') + '\n', { mode: 0o600 });

    const network = opts.network;
    // a private network is fresh: fixed ports; on the machine's loopback, free ones
    const [etcdClientPort = 0, etcdPeerPort = 0, apiPort = 0] = network ? [2379, 2380, 443] : await freePorts(3);
    const inside = (command: string, args: readonly string[]): [string, string[]] => network ? network.inNetwork(command, args) : [command, [...args]];
    const etcdLog = path.join(dir, 'etcd.log');
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    procs.push(startProcess('etcd', ...inside(path.join(binDir, 'etcd'), [
      '--name=kube-irsa-test', `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=kube-irsa-test=http://127.0.0.1:${etcdPeerPort}`,
      '--listen-metrics-urls=', '--unsafe-no-fsync=true', '--log-level=warn',
    ]), { logFile: etcdLog }));

    const internalServer = network ? `https://${NODE_IP}` : `https://127.0.0.1:${apiPort}`;
    const issuer = internalServer;
    const kubeletClient = network ? await issueCertificate(ca, pki, { name: 'kubelet-client', commonName: 'kube-apiserver-kubelet-client', extendedKeyUsage: 'clientAuth' }) : undefined;
    const apiServerLog = path.join(dir, 'kube-apiserver.log');
    const apiServerArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${pki}`, `--tls-cert-file=${serving.certFile}`, `--tls-private-key-file=${serving.keyFile}`,
      `--token-auth-file=${tokenFile}`,
      `--service-account-issuer=${issuer}`,
      `--service-account-key-file=${saKey}`, `--service-account-signing-key-file=${saKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`, '--allow-privileged=true',
      '--event-ttl=1h', '--profiling=false', '--v=1',
      ...(network
        ? [
          // a real cluster's API server: reached on the node's address and the kubernetes ClusterIP,
          // webhooks called at their Service's endpoints (no kube-proxy), kubelets as Nodes
          '--bind-address=0.0.0.0', `--advertise-address=${NODE_IP}`, `--secure-port=${apiPort}`,
          '--enable-aggregator-routing=true', '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
          `--kubelet-client-certificate=${kubeletClient?.certFile ?? ''}`, `--kubelet-client-key=${kubeletClient?.keyFile ?? ''}`,
          '--kubelet-preferred-address-types=InternalIP',
        ]
        : [
          '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`, '--authorization-mode=RBAC',
          // no kubernetes Service endpoints: the reconciler refuses a loopback advertise address
          '--endpoint-reconciler-type=none',
        ]),
      ...(opts.extraApiServerArgs ?? []),
    ];
    const startApiServer = (): ManagedProcess => startProcess('kube-apiserver', ...inside(path.join(binDir, 'kube-apiserver'), apiServerArgs), {
      logFile: apiServerLog,
      // webhook calls go to loopback; a proxy from the environment must not intercept them
      env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    });
    procs.push(startApiServer());

    // the test's own clients: directly on loopback, or through a bridge into the private network
    const server = network ? `https://127.0.0.1:${(await network.hostBridge(NODE_IP, apiPort)).port}` : internalServer;
    await waitForReady(server, ca.certPem, procs, opts.startTimeoutMs ?? 90_000, apiServerLog);

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    const kubeConfig = makeKubeConfig(server, ca.certPem, 'admin', { token: adminToken });
    await writeFile(kubeconfigPath, toYaml(JSON.parse(kubeConfig.exportConfig())), { mode: 0o600 });

    // OIDC discovery and JWKS readable without credentials, as STS (or the emulator) reads them
    await kubeConfig.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
      body: {
        metadata: { name: 'kube-irsa-test:issuer-discovery-anonymous' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:service-account-issuer-discovery' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' }],
      },
    });

    const writeInternalKubeconfig = async (file: string, user?: string): Promise<void> => {
      const token = user === undefined ? adminToken : userTokens.get(user);
      if (token === undefined) throw new Error(`user ${user} was not declared in startControlPlane({ users })`);
      const kc = makeKubeConfig(internalServer, ca.certPem, user ?? 'admin', { token });
      await writeFile(file, toYaml(JSON.parse(kc.exportConfig())), { mode: 0o600 });
    };
    if (network) {
      // Deployments, DaemonSets, EndpointSlices, kube-root-ca.crt, garbage collection; scheduling
      const cmKubeconfig = path.join(pki, 'admin-internal.kubeconfig');
      await writeInternalKubeconfig(cmKubeconfig);
      procs.push(startProcess('kube-controller-manager', ...inside(path.join(binDir, 'kube-controller-manager'), [
        `--kubeconfig=${cmKubeconfig}`, `--root-ca-file=${ca.certFile}`, `--service-account-private-key-file=${saKey}`,
        '--leader-elect=false', '--secure-port=0', '--controllers=*', '--use-service-account-credentials=false', '--v=1',
      ]), { logFile: path.join(dir, 'kube-controller-manager.log') }));
      procs.push(startProcess('kube-scheduler', ...inside(path.join(binDir, 'kube-scheduler'), [
        `--kubeconfig=${cmKubeconfig}`, '--leader-elect=false', '--secure-port=0', '--v=1',
      ]), { logFile: path.join(dir, 'kube-scheduler.log') }));
    }

    plane = {
      dir, server, issuer, ca, kubeconfigPath, kubeConfig, apiServerLog, etcdLog, internalServer, writeInternalKubeconfig,
      kubeConfigFor(user) {
        const token = userTokens.get(user);
        if (token === undefined) throw new Error(`user ${user} was not declared in startControlPlane({ users })`);
        return makeKubeConfig(server, ca.certPem, user, { token });
      },
      impersonating(user) {
        return makeKubeConfig(server, ca.certPem, `as-${user}`, { token: adminToken, impersonateUser: user });
      },
      async restartApiServer(downMs = 0) {
        const index = procs.findIndex((p) => p.name === 'kube-apiserver');
        await procs[index]?.stop();
        if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
        procs[index] = startApiServer();
        await waitForReady(server, ca.certPem, procs, opts.startTimeoutMs ?? 90_000, apiServerLog);
      },
      stop,
    };
    return plane;
  } catch (err) {
    const logs = procs.map((p) => `--- ${p.name} (${p.logFile}):\n${tail(p.logFile, 20)}`).join('\n');
    await stop();
    throw new Error(`the test control plane did not start: ${(err as Error).message}\n${logs}`, { cause: err });
  }
}

function makeKubeConfig(server: string, caPem: string, userName: string, user: { token: string; impersonateUser?: string }): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'kube-irsa-test', server, caData: Buffer.from(caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: userName, ...user }],
    contexts: [{ name: userName, cluster: 'kube-irsa-test', user: userName }],
    currentContext: userName,
  });
  return shareConnections(kc);
}

async function waitForReady(server: string, caPem: string, procs: ManagedProcess[], timeoutMs: number, log: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const dead = procs.find((p) => !p.isRunning());
    if (dead) throw new Error(`${dead.name} exited during start (exit ${String(await dead.exited)}); log: ${dead.logFile}`);
    try {
      const res = await httpsRequest(`${server}/readyz`, { ca: caPem, timeoutMs: 2_000 });
      if (res.status === 200) return;
      last = `/readyz answered ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`kube-apiserver not ready after ${timeoutMs} ms (${last}); log: ${log}`);
}

export async function freePorts(count: number): Promise<number[]> {
  // hold every listener open until all are chosen so the same port is not returned twice
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Removes folders left by runs whose process died without cleaning up (SIGKILL, power loss). */
function sweepAbandonedFolders(parent: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent).filter((e) => e.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const e of entries) {
    const dir = path.join(parent, e);
    try {
      const text = readFileSync(path.join(dir, OWNER_FILE), 'utf8');
      // empty: its owner is writing it right now
      if (text === '') continue;
      const owner = Number(text);
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // not ours to judge, or gone already
    }
  }
}


/** JWTs and AWS keys in any Event message or IRSACheck status of the cluster. */
async function scanForSecrets(kc: KubeConfig): Promise<string[]> {
  const { CoreV1Api, CustomObjectsApi } = await import('@kubernetes/client-node');
  const { findSecrets } = await import('../support/log-capture.ts');
  const events = await kc.makeApiClient(CoreV1Api).listEventForAllNamespaces({});
  const text = [events.items.map((e) => e.message ?? '').join('\n')];
  const checks = await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: 'kube-irsa.io', version: 'v1alpha1', plural: 'irsachecks' }).catch(() => undefined);
  if (checks) text.push(JSON.stringify(checks));
  return findSecrets(text.join('\n'));
}

/**
 * client-node 2.x builds a new undici Agent for every request, so every API call pays a TLS
 * handshake and leaves an idle socket behind: the tests' clients reuse one pool per configuration.
 */
function shareConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher?: (cluster: unknown, options: unknown) => unknown };
  const original = target.createDispatcher?.bind(kc);
  if (!original) return kc;
  const pools = new Map<string, unknown>();
  target.createDispatcher = (cluster, options) => {
    const key = JSON.stringify([cluster, options]);
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = original(cluster, options);
      pools.set(key, pool);
    }
    return pool;
  };
  return kc;
}
