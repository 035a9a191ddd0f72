// kube-irsa as users run it: the project's image built from its Dockerfile, the Helm chart
// installed on a real single-node cluster (kubelet, containerd, runc, CNI; test/node/), and an
// application that gets AWS credentials through what the webhook injected, from the STS emulator
// through the AWS SDK's default credential chain. Root only: elsewhere the suite is skipped with
// one line saying why.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { eventually } from '../cluster/kube-helpers.ts';
import { acquireLock, IMAGES, realNodeUnavailable, startRealCluster, sweepAbandonedRuns, type RealCluster } from '../node/cluster.ts';
import { ACCOUNT, CHART, chartArgs, createAppPod as createPod, roleArn, setUpShop, trustPolicyFor } from '../node/workloads.ts';
import { machineDifferences, processesInNamespaces, snapshotMachine, type MachineState } from '../node/machine-state.ts';

const REGION = 'us-east-1';
const RELEASE = 'kube-irsa';
const RELEASE_NS = 'kube-irsa';
const APP_NS = 'shop';

const unavailable = realNodeUnavailable();
if (unavailable) console.log(`# real-node end-to-end tests skipped: ${unavailable}`);

describe('a real single-node cluster: the chart installed, the image built', { skip: unavailable, concurrency: false }, () => {
  let cluster: RealCluster;
  let machineBefore: MachineState;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;

  const trustFor = (sub: string): unknown => trustPolicyFor(cluster, sub);
  const chartValues = (tokenSource: 'kubelet' | 'token-request'): string[] => chartArgs(cluster, { tokenSource, region: REGION,
    extra: ['--set', 'agent.recheckInterval=20s', '--set', 'agent.misconfiguredRecheckInterval=5s', '--set', 'agent.retryInterval=2s'] });
  const createAppPod = (name: string, serviceAccount: string, labels: Record<string, string> = {}): Promise<V1Pod> =>
    createPod(core, cluster, APP_NS, name, serviceAccount, labels);

  const podLog = async (name: string): Promise<string> => core.readNamespacedPodLog({ namespace: APP_NS, name, container: 'app' });

  async function irsaCheck(serviceAccount: string): Promise<{ health?: string; reason?: string; message?: string } | undefined> {
    const list = await custom.listNamespacedCustomObject({ group: 'kube-irsa.io', version: 'v1alpha1', namespace: APP_NS, plural: 'irsachecks' }) as { items: { spec?: { serviceAccountName?: string }; status?: { health?: string; reason?: string; message?: string } }[] };
    return list.items.find((c) => c.spec?.serviceAccountName === serviceAccount)?.status;
  }

  async function podEventReasons(pod: string): Promise<string[]> {
    const events = await core.listNamespacedEvent({ namespace: APP_NS, fieldSelector: `involvedObject.name=${pod}` });
    return events.items.map((e) => e.reason ?? '');
  }

  before(async () => {
    // the machine as it was, seen while this run holds it (another worktree's run may be going)
    cluster = await startRealCluster({ onLocked: async () => { machineBefore = await snapshotMachine(); } });
    core = cluster.controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    apps = cluster.controlPlane.kubeConfig.makeApiClient(AppsV1Api);
    custom = cluster.controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    // payments: the demo's classic mistake, a role that trusts another namespace
    await setUpShop(cluster, core, APP_NS);
  }, { timeout: 60 * 60_000 });

  after(async () => {
    await cluster?.stop();
  });

  test('helm install: the webhook Deployment and the agent DaemonSet become Ready through their real probes', { timeout: 10 * 60_000 }, async () => {
    await cluster.helm(['install', RELEASE, CHART, '--namespace', RELEASE_NS, '--create-namespace', '--wait', '--timeout', '5m', ...chartValues('kubelet')]);
    const webhook = await apps.readNamespacedDeployment({ namespace: RELEASE_NS, name: `${RELEASE}-webhook` });
    assert.equal(webhook.status?.readyReplicas, 2);
    // helm's --wait lets a DaemonSet be short by its maxUnavailable (10% of one node rounds to one)
    await eventually(async () => (await apps.readNamespacedDaemonSet({ namespace: RELEASE_NS, name: `${RELEASE}-agent` })).status?.numberReady === 1 ? true : undefined,
      'the agent pod to pass its readiness probe', 120_000, 1_000);
    const pods = await core.listNamespacedPod({ namespace: RELEASE_NS });
    for (const p of pods.items) {
      assert.equal(p.spec?.nodeName, cluster.node.name);
      assert.ok(p.status?.containerStatuses?.every((c) => c.ready && c.image.includes('kube-irsa')), `${p.metadata?.name} not ready`);
    }
  });

  test('an application pod gets AWS credentials through what the webhook injected (API server → webhook Service, kubelet token, SDK default chain)', { timeout: 5 * 60_000 }, async () => {
    const created = await createAppPod('orders', 'orders');
    const env = Object.fromEntries((created.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.AWS_ROLE_ARN, roleArn('orders'), 'the API server called the webhook through its Service and the pod was mutated');
    assert.equal(env.AWS_WEB_IDENTITY_TOKEN_FILE, '/var/run/secrets/eks.amazonaws.com/serviceaccount/token');
    const line = await eventually(async () => (await podLog('orders').catch(() => '')).trim() || undefined, 'the application to print who it is', 120_000, 500);
    const whoami = JSON.parse(line) as { arn?: string; error?: string; message?: string; tokenFile?: string };
    assert.equal(whoami.error, undefined, `the application failed: ${whoami.error}: ${whoami.message}`);
    assert.match(whoami.arn ?? '', new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/orders/.+`));
    // the kubelet really mounted the projected token at the injected path: read it inside the pod
    const claims = JSON.parse(await cluster.kubectl(['exec', '-n', APP_NS, 'orders', '--', 'node', '-e',
      `const t=require('fs').readFileSync(process.env.AWS_WEB_IDENTITY_TOKEN_FILE,'utf8');process.stdout.write(Buffer.from(t.split('.')[1],'base64url').toString())`])) as { aud?: string[]; sub?: string; iss?: string };
    assert.deepEqual(claims.aud, ['sts.amazonaws.com']);
    assert.equal(claims.sub, `system:serviceaccount:${APP_NS}:orders`);
    assert.equal(claims.iss, cluster.controlPlane.issuer);
    const calls = await cluster.emulator.requests();
    assert.ok(calls.some((r) => r.action === 'AssumeRoleWithWebIdentity' && r.roleArn === roleArn('orders') && r.result === 'Success'));
    assert.ok(calls.some((r) => r.action === 'GetCallerIdentity' && r.result === 'Success'));
  });

  test('the agent in kubelet mode reads the token files the kubelet wrote: Healthy for orders, TrustPolicyDenied for payments', { timeout: 5 * 60_000 }, async () => {
    await createAppPod('payments', 'payments');
    const healthy = await eventually(async () => (await irsaCheck('orders'))?.reason === 'Healthy' ? true : undefined, 'orders to be Healthy', 120_000, 1_000);
    assert.ok(healthy);
    const denied = await eventually(async () => {
      const s = await irsaCheck('payments');
      return s?.reason === 'TrustPolicyDenied' ? s : undefined;
    }, 'payments to be TrustPolicyDenied', 120_000, 1_000);
    assert.equal(denied.health, 'Misconfigured');
    assert.ok((await podEventReasons('payments')).includes('TrustPolicyDenied'));
  });

  test('the agent in token-request mode (helm upgrade): the same verdicts for new ServiceAccounts', { timeout: 8 * 60_000 }, async () => {
    await cluster.helm(['upgrade', RELEASE, CHART, '--namespace', RELEASE_NS, '--wait', '--timeout', '5m', ...chartValues('token-request')]);
    const ds = await apps.readNamespacedDaemonSet({ namespace: RELEASE_NS, name: `${RELEASE}-agent` });
    assert.ok(ds.spec?.template.spec?.containers[0]?.args?.includes('--token-source=token-request'));
    for (const [sa, role] of [['orders-2', 'orders-2'], ['payments-2', 'payments']] as const) {
      await core.createNamespacedServiceAccount({ namespace: APP_NS, body: { metadata: { name: sa, annotations: { 'eks.amazonaws.com/role-arn': roleArn(role) } } } });
    }
    await cluster.emulator.apply({ op: 'putRole', account: ACCOUNT, spec: { name: 'orders-2', trustPolicy: trustFor(`system:serviceaccount:${APP_NS}:orders-2`) } });
    await createAppPod('orders-2', 'orders-2');
    await createAppPod('payments-2', 'payments-2');
    await eventually(async () => (await irsaCheck('orders-2'))?.reason === 'Healthy' ? true : undefined, 'orders-2 to be Healthy', 120_000, 1_000);
    await eventually(async () => (await irsaCheck('payments-2'))?.reason === 'TrustPolicyDenied' ? true : undefined, 'payments-2 to be TrustPolicyDenied', 120_000, 1_000);
  });

  test('the token guard: the DaemonSet pod\'s agent gets a token for a pod on its node, and is refused one for a pod bound to another node', { timeout: 5 * 60_000 }, async () => {
    // the agent pod of the upgraded DaemonSet (helm's --wait may return before its rollout ends),
    // found before the object-only node exists (the DaemonSet would want a pod there too)
    await cluster.kubectl(['rollout', 'status', '-n', RELEASE_NS, `daemonset/${RELEASE}-agent`, '--timeout=180s']);
    const agentPod = (await core.listNamespacedPod({ namespace: RELEASE_NS, labelSelector: 'app.kubernetes.io/component=agent' })).items
      .find((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp)?.metadata?.name ?? '';
    // an object-only node and a pod bound to it (no kubelet: it stays Pending there)
    await core.createNode({ body: { metadata: { name: 'node-elsewhere' } } });
    try {
      const elsewhere = await core.createNamespacedPod({ namespace: APP_NS, body: {
        metadata: { name: 'orders-elsewhere' },
        spec: { serviceAccountName: 'orders', nodeName: 'node-elsewhere', containers: [{ name: 'app', image: IMAGES.app, imagePullPolicy: 'Never' }] },
      } });
      const here = await core.readNamespacedPod({ namespace: APP_NS, name: 'orders' });
      // a TokenRequest made inside the agent's container with its own credentials; only the status
      // and the refusal come out, never a token
      const tokenRequestFromAgent = async (pod: V1Pod): Promise<{ status: number; message: string }> => JSON.parse(await cluster.kubectl(['exec', '-n', RELEASE_NS, agentPod, '--', 'node', '-e', `
        const fs = require('fs'), https = require('https'), d = '/var/run/secrets/kubernetes.io/serviceaccount/';
        const body = JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: ${JSON.stringify(pod.metadata?.name)}, uid: ${JSON.stringify(pod.metadata?.uid)} } } });
        const req = https.request({ host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, method: 'POST',
          path: '/api/v1/namespaces/${APP_NS}/serviceaccounts/orders/token', ca: fs.readFileSync(d + 'ca.crt'),
          headers: { authorization: 'Bearer ' + fs.readFileSync(d + 'token', 'utf8'), 'content-type': 'application/json' } }, (res) => {
          let text = ''; res.on('data', (c) => (text += c));
          res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, message: res.statusCode === 201 ? 'issued' : JSON.parse(text).message })));
        });
        req.end(body);`])) as { status: number; message: string };
      assert.deepEqual(await tokenRequestFromAgent(here), { status: 201, message: 'issued' });
      const refused = await tokenRequestFromAgent(elsewhere);
      assert.equal(refused.status, 400);
      assert.match(refused.message, /kube-irsa token guard \(PodOnOtherNode\): pod shop\/orders-elsewhere is on node node-elsewhere, and the agent of node node-1/);
    } finally {
      await core.deleteNamespacedPod({ namespace: APP_NS, name: 'orders-elsewhere', gracePeriodSeconds: 0 }).catch(() => undefined);
      // the DaemonSet's pod for it goes with the node
      await core.deleteNode({ name: 'node-elsewhere' });
    }
  });

  test('webhook down: pods start unmutated (Ignore) and the agent says PodNotMutated; labelled pods are refused until it is back', { timeout: 8 * 60_000 }, async () => {
    // pods are being created (dry runs: the whole admission chain) while the webhook is killed
    let stop = false;
    const admitted: boolean[] = [];
    const refused: string[] = [];
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const pod = await core.createNamespacedPod({ namespace: APP_NS, dryRun: 'All', body: {
            metadata: { name: `during-${i}` }, spec: { serviceAccountName: 'orders', containers: [{ name: 'app', image: IMAGES.app, imagePullPolicy: 'Never' }] },
          } });
          admitted.push(pod.spec?.containers[0]?.env?.some((e) => e.name === 'AWS_ROLE_ARN') ?? false);
        } catch (err) {
          refused.push((err as Error).message.slice(0, 200));
        }
      }
    })();
    await eventually(() => (admitted.filter(Boolean).length >= 5 ? true : undefined), 'mutated admissions before the kill', 60_000, 100);
    await cluster.kubectl(['scale', '-n', RELEASE_NS, `deployment/${RELEASE}-webhook`, '--replicas=0']);
    // killed, not drained: the pods go at once
    await cluster.kubectl(['delete', 'pods', '-n', RELEASE_NS, '-l', 'app.kubernetes.io/component=webhook', '--grace-period=0', '--force', '--wait=true']);
    const killedAt = admitted.length;
    await eventually(() => (admitted.slice(killedAt).filter((m) => !m).length >= 5 ? true : undefined), 'unmutated admissions after the kill', 60_000, 100);
    stop = true;
    await load;
    assert.deepEqual(refused, [], 'failurePolicy Ignore: no pod creation fails while the webhook is down');
    const unmutated = await createAppPod('orders-unmutated', 'orders');
    assert.equal(unmutated.spec?.containers[0]?.env?.some((e) => e.name === 'AWS_ROLE_ARN'), false, 'admitted without the webhook (failurePolicy Ignore)');
    await eventually(async () => (await podEventReasons('orders-unmutated')).includes('PodNotMutated') ? true : undefined, 'a PodNotMutated Event', 120_000, 1_000);
    await assert.rejects(createAppPod('orders-required', 'orders', { 'kube-irsa.io/require-identity': 'true' }), (err: Error) => {
      assert.match(err.message, /failed calling webhook|no endpoints available|connection refused/);
      return true;
    });
    await cluster.kubectl(['scale', '-n', RELEASE_NS, `deployment/${RELEASE}-webhook`, '--replicas=2']);
    await cluster.kubectl(['rollout', 'status', '-n', RELEASE_NS, `deployment/${RELEASE}-webhook`, '--timeout=180s']);
    const required = await eventually(() => createAppPod('orders-required', 'orders', { 'kube-irsa.io/require-identity': 'true' }), 'the labelled pod to be admitted', 60_000, 1_000);
    assert.equal(required.spec?.containers[0]?.env?.find((e) => e.name === 'AWS_ROLE_ARN')?.value, roleArn('orders'));
  });

  test('helm upgrade with a new certificate under pod creation loses no admission', { timeout: 8 * 60_000 }, async () => {
    const secretBefore = await core.readNamespacedSecret({ namespace: RELEASE_NS, name: `${RELEASE}-webhook-tls` });
    let stop = false;
    const outcomes: string[] = [];
    // dry-run creations run the whole admission chain; the Fail-policy label makes a lost call an error
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          const pod = await core.createNamespacedPod({ namespace: APP_NS, dryRun: 'All', body: {
            metadata: { name: `load-${i}`, labels: { 'kube-irsa.io/require-identity': 'true' } },
            spec: { serviceAccountName: 'orders', containers: [{ name: 'app', image: IMAGES.app, imagePullPolicy: 'Never' }] },
          } });
          outcomes.push(pod.spec?.containers[0]?.env?.some((e) => e.name === 'AWS_ROLE_ARN') ? 'mutated' : 'unmutated');
        } catch (err) {
          outcomes.push(`error: ${(err as Error).message.slice(0, 200)}`);
        }
      }
    })();
    await cluster.helm(['upgrade', RELEASE, CHART, '--namespace', RELEASE_NS, '--wait', '--timeout', '5m', ...chartValues('token-request'), '--set', 'tls.selfSigned.rotate=true']);
    const secretAfter = await core.readNamespacedSecret({ namespace: RELEASE_NS, name: `${RELEASE}-webhook-tls` });
    assert.notEqual(secretAfter.data?.['tls.crt'], secretBefore.data?.['tls.crt'], 'a new certificate');
    // load goes on until every webhook pod serves the new certificate (the kubelet updates the
    // Secret volume, the webhook reloads it) and a little after
    const newCert = new X509Certificate(Buffer.from(secretAfter.data?.['tls.crt'] ?? '', 'base64')).fingerprint256;
    await eventually(async () => {
      const pods = await core.listNamespacedPod({ namespace: RELEASE_NS, labelSelector: 'app.kubernetes.io/component=webhook' });
      const ips = pods.items.filter((p) => p.status?.podIP && !p.metadata?.deletionTimestamp).map((p) => p.status?.podIP ?? '');
      if (ips.length === 0) return undefined;
      const served = await Promise.all(ips.map((ip) => servedCertificate(cluster, ip, 8443)));
      return served.every((fp) => fp === newCert) ? true : undefined;
    }, 'every webhook pod to serve the new certificate', 180_000, 1_000);
    const settled = outcomes.length;
    await eventually(() => (outcomes.length > settled + 20 ? true : undefined), 'admissions after the reload', 60_000, 200);
    stop = true;
    await load;
    const failed = outcomes.filter((o) => o !== 'mutated');
    assert.deepEqual(failed, [], `${failed.length} of ${outcomes.length} admissions lost`);
    assert.ok(outcomes.length > 50);
  });

  test('helm uninstall leaves no kube-irsa object behind', { timeout: 5 * 60_000 }, async () => {
    await cluster.helm(['uninstall', RELEASE, '--namespace', RELEASE_NS, '--wait', '--timeout', '3m']);
    const leftovers: string[] = [];
    const kinds = ['deployments', 'daemonsets', 'services', 'secrets', 'configmaps', 'serviceaccounts', 'roles', 'rolebindings', 'poddisruptionbudgets'];
    const namespaced = await cluster.kubectl(['get', kinds.join(','), '-n', RELEASE_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name']);
    leftovers.push(...namespaced.split('\n').filter(Boolean));
    const clusterWide = await cluster.kubectl(['get', 'mutatingwebhookconfigurations,validatingwebhookconfigurations,validatingadmissionpolicies,validatingadmissionpolicybindings,clusterroles,clusterrolebindings', '-o', 'name']);
    // (the test control plane's own anonymous-discovery binding is named kube-irsa-test:…)
    leftovers.push(...clusterWide.split('\n').filter((l) => l.includes('kube-irsa') && !l.includes('/kube-irsa-test:')));
    const checks = await cluster.kubectl(['get', 'irsachecks', '-A', '-o', 'name']);
    leftovers.push(...checks.split('\n').filter(Boolean));
    assert.deepEqual(leftovers, []);
  });

  test('stopping the cluster leaves the machine as it was', { timeout: 5 * 60_000 }, async () => {
    const { namespaces, dir } = cluster;
    await cluster.stop();
    assert.deepEqual(await processesInNamespaces(namespaces), [], 'no process is left in the cluster namespaces');
    assert.deepEqual(machineDifferences(machineBefore, await snapshotMachine()), []);
    assert.equal(await stat(dir).then(() => true, () => false), false, 'the run folder is gone');
  });
});

describe('a real-node run whose process was killed', { skip: unavailable }, () => {
  test('is cleaned up by the next run: sysctls restored, no cgroup, mount, interface, process or folder left', { timeout: 15 * 60_000 }, async () => {
    // the machine as it was, seen while no other run holds it
    const release = await acquireLock();
    await sweepAbandonedRuns();
    const before = await snapshotMachine();
    await release();
    const child = spawn(process.execPath, [path.join(import.meta.dirname, '..', 'node', 'cli.ts'), 'up'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<unknown>((r) => child.once('exit', r));
    try {
      await eventually(() => (out.includes('ready;') ? true : undefined), 'the cluster to come up', 10 * 60_000, 500)
        .catch((err: Error) => { throw new Error(`${err.message}\n${out}`); });
      // the kubelet has changed the machine's sysctls and made its cgroups: now the owner dies hard
      assert.notDeepEqual(machineDifferences(before, await snapshotMachine()), []);
      child.kill('SIGKILL');
      await exited;
      await sweepAbandonedRuns();
      await eventually(async () => (machineDifferences(before, await snapshotMachine()).length === 0 ? true : undefined), 'the machine to be as it was', 30_000, 500)
        .catch(async (err: Error) => { throw new Error(`${err.message}: ${machineDifferences(before, await snapshotMachine()).join('; ')}`); });
      // its folder is gone, and the lock is no longer its (another worktree's run may hold one now)
      const runDir = /run folder: (\S+)/.exec(out)?.[1] ?? '';
      assert.ok(runDir.startsWith('/var/tmp/kube-irsa-node-'), out);
      assert.equal(await stat(runDir).then(() => true, () => false), false, `${runDir} is gone`);
      const lockOwner = await readFile('/var/tmp/kube-irsa-real-node.lock/owner.pid', 'utf8').catch(() => '');
      assert.notEqual(lockOwner, String(child.pid));
    } finally {
      // a run that never came up (e.g. it waited too long for the lock) must not outlive the test
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await exited;
      }
    }
  });
});

/** The SHA-256 fingerprint of the certificate a server inside the cluster presents. */
async function servedCertificate(cluster: RealCluster, host: string, port: number): Promise<string> {
  const bridge = await cluster.network.hostBridge(host, port);
  try {
    return await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: bridge.port, rejectUnauthorized: false, servername: 'kube-irsa-webhook.kube-irsa.svc' }, () => {
        const cert = socket.getPeerX509Certificate();
        socket.destroy();
        if (cert) resolve(cert.fingerprint256);
        else reject(new Error('no certificate'));
      });
      socket.once('error', reject);
      socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
    });
  } finally {
    await bridge.close();
  }
}
