// Many agents, one cluster: 20 agents in one process (plus one as a real process, to be killed)
// against the real API server and the STS emulator, coordinating through IRSACheck objects.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import pino from 'pino';
import { parseFlags } from '../../shared/cli/flags.ts';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { runDoctor } from '../../agent/doctor-command.ts';
import { IRSACHECK, type IRSACheck } from '../../agent/fleet.ts';
import { startAgent, type RunningAgent } from '../../agent/main.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { httpsRequest } from '../cluster/https.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { applyManifestFile } from '../cluster/manifests.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { captureIo } from '../support/io-capture.ts';
import { startWebhookHarness, TEST_NAMESPACE_LABEL, waitForMutation, type WebhookHarness } from '../support/webhook-harness.ts';

const ACCOUNT = '111122223333';
const AGENTS = 20;
const HEALTHY = ['orders', 'billing', 'search', 'reports'];
const BROKEN = 'payments';
const RECHECK_S = 3;
const role = (sa: string) => `arn:aws:iam::${ACCOUNT}:role/${sa}`;
const CRD = path.join(import.meta.dirname, '..', '..', 'deploy', 'kube-irsa', 'crds', 'irsachecks.kube-irsa.io.yaml');
const CLI = path.join(import.meta.dirname, '..', '..', 'bin', 'kube-irsa');

describe('fleet-wide identity health', () => {
  let cp: ControlPlane;
  let kube: KubeHelpers;
  let sts: StsEmulator;
  let hook: WebhookHarness;
  let ns: string;
  let providerUrl: string;
  let caFile: string;
  const agents: RunningAgent[] = [];

  const trust = (sub: string) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${providerUrl}:sub`]: sub } } }],
  });
  const agentArgs = (node: string) => [
    `--node-name=${node}`, '--kubeconfig', cp.kubeconfigPath, '--token-source=token-request', `--sts-endpoint=${sts.endpoint}`,
    `--issuer-ca-file=${caFile}`, '--region=us-west-2', `--recheck-interval=${RECHECK_S}s`, '--misconfigured-recheck-interval=2s',
    '--retry-interval=500ms', '--claim-timeout=3s', '--port=0', '--bind-address=127.0.0.1', '--sts-qps=50',
  ];
  const irsachecks = () => cp.kubeConfig.makeApiClient(CustomObjectsApi);
  const readCheck = async (sa: string) => (await irsachecks().getNamespacedCustomObject({ ...IRSACHECK, namespace: ns, name: sa })) as IRSACheck;
  const pod = (sa: string, node: string) => kube.createPod(ns, `${sa}-${node}`, { serviceAccountName: sa, nodeName: node });

  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
    providerUrl = cp.issuer.replace('https://', '');
    caFile = path.join(cp.dir, 'issuer-ca.pem');
    await writeFile(caFile, cp.ca.certPem);
    await applyManifestFile(cp.kubeConfig, CRD);
    sts = await StsEmulator.start({ extraCaPems: [cp.ca.certPem], config: { region: 'us-west-2', accounts: [{ id: ACCOUNT, oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }] }] } });
    hook = await startWebhookHarness(cp);
    await hook.register();
    ns = await kube.createNamespace('fleet', { [TEST_NAMESPACE_LABEL]: 'on' });
    for (const sa of [...HEALTHY, BROKEN]) {
      await kube.createServiceAccount(ns, sa, { 'eks.amazonaws.com/role-arn': role(sa) });
      sts.state.putRole(ACCOUNT, { name: sa, trustPolicy: trust(sa === BROKEN ? 'system:serviceaccount:wrong:payments' : `system:serviceaccount:${ns}:${sa}`) });
    }
    await waitForMutation(kube, ns, HEALTHY[0]!);
    for (let i = 0; i < AGENTS; i++) {
      const node = `node-${String(i).padStart(2, '0')}`;
      for (const sa of [...HEALTHY, BROKEN]) await pod(sa, node);
      const { values } = parseFlags(AGENT_FLAGS, agentArgs(node));
      agents.push(await startAgent(buildAgentConfig(values).config, pino({ level: 'silent' })));
    }
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await hook?.stop();
    await sts?.stop();
    await cp?.stop();
  });

  async function allReport(sa: string, reason: string, timeoutMs = 60_000): Promise<void> {
    await eventually(() => agents.every((a, i) => a.agent.podVerdict(ns, `${sa}-node-${String(i).padStart(2, '0')}`)?.reason === reason) ? true : undefined,
      `every agent to report ${sa} as ${reason}`, timeoutMs, 100);
  }

  test('every agent reports the right health, from at most about one probe per identity and interval', async () => {
    for (const sa of HEALTHY) await allReport(sa, 'Healthy');
    await allReport(BROKEN, 'TrustPolicyDenied');
    // count STS calls for the healthy identities over two recheck intervals
    const from = sts.requests.length;
    const windowS = 2 * RECHECK_S;
    await new Promise((r) => setTimeout(r, windowS * 1000));
    const calls = sts.requests.slice(from).filter((r) => HEALTHY.some((sa) => r.roleArn === role(sa)));
    const intervals = windowS / (RECHECK_S * 0.8); // jitter can shorten an interval to 80%
    const bound = Math.ceil(HEALTHY.length * (intervals + 1));
    assert.ok(calls.length <= bound, `${calls.length} STS calls for ${HEALTHY.length} identities in ${windowS} s (bound ${bound}; uncoordinated would be about ${AGENTS * HEALTHY.length * 2})`);
    assert.ok(calls.length >= HEALTHY.length, 'identities are re-checked');
    console.log(`# ${calls.length} STS calls for ${HEALTHY.length} identities used on ${AGENTS} nodes in ${windowS} s (${RECHECK_S} s interval)`);
    const byNode = new Set(sts.requests.map((r) => r.roleSessionName));
    assert.ok(byNode.size > 1, 'probes are spread over several agents');
    for (const sa of HEALTHY) {
      const check = await readCheck(sa);
      assert.equal(check.status?.health, 'Healthy');
      assert.equal(check.status?.reason, 'Healthy');
      assert.equal(check.status?.roleArn, role(sa));
      assert.equal(check.status?.subject, `system:serviceaccount:${ns}:${sa}`);
      assert.equal(check.status?.conditions?.[0]?.type, 'Healthy');
      assert.equal(check.status?.conditions?.[0]?.status, 'True');
    }
    const broken = await readCheck(BROKEN);
    assert.equal(broken.status?.health, 'Misconfigured');
    assert.equal(broken.status?.conditions?.[0]?.status, 'False');
    assert.match(broken.status?.message ?? '', /must allow Principal\.Federated/);
  });

  test('a trust-policy fix is seen by all agents within one interval, and the status turns healthy', async () => {
    // however long it has been broken, its next probe is at most one recheck interval (+20% jitter) away
    const before = await readCheck(BROKEN);
    const nextProbeIn = (Date.parse(before.status?.nextProbeAfter ?? '') - Date.now()) / 1000;
    assert.ok(nextProbeIn <= RECHECK_S * 1.2, `next probe of a misconfigured identity in ${nextProbeIn.toFixed(1)} s`);
    sts.state.updateTrustPolicy(ACCOUNT, BROKEN, trust(`system:serviceaccount:${ns}:${BROKEN}`));
    const fixedAt = Date.now();
    await allReport(BROKEN, 'Healthy', 30_000);
    const check = await readCheck(BROKEN);
    assert.equal(check.status?.health, 'Healthy');
    const waited = (Date.now() - fixedAt) / 1000;
    console.log(`# trust-policy fix seen by all ${AGENTS} agents after ${waited.toFixed(1)} s (recheck interval ${RECHECK_S} s)`);
  });

  test('killing the agent that claimed a probe mid-way does not leave the identity unchecked', async () => {
    const sa = 'claimed';
    await kube.createServiceAccount(ns, sa, { 'eks.amazonaws.com/role-arn': role(sa) });
    sts.state.putRole(ACCOUNT, { name: sa, trustPolicy: trust(`system:serviceaccount:${ns}:${sa}`) });
    await pod(sa, 'node-victim');
    sts.faults = { latencyMs: 8_000 };
    const victim = spawn(CLI, ['agent', ...agentArgs('node-victim').filter((a) => !a.startsWith('--port'))], { stdio: 'ignore' });
    try {
      await eventually(async () => {
        try {
          return (await readCheck(sa)).status?.claim?.holder === 'node-victim' ? true : undefined;
        } catch {
          return undefined;
        }
      }, 'the victim to claim the probe', 20_000);
      victim.kill('SIGKILL');
      sts.faults = {};
      const claimedAt = Date.now();
      await pod(sa, 'node-00');
      await eventually(async () => {
        const st = (await readCheck(sa)).status;
        return st?.health === 'Healthy' && st.lastProbeNode === 'node-00' ? true : undefined;
      }, 'another agent to take the expired claim over', 20_000);
      assert.ok(Date.now() - claimedAt >= 1_000, 'it waited for the claim to expire');
      assert.equal(agents[0]!.agent.podVerdict(ns, `${sa}-node-00`)?.reason, 'Healthy');
    } finally {
      victim.kill('SIGKILL');
      sts.faults = {};
    }
  });

  test('kubectl get irsachecks -A shows the health table (the API server\'s table output)', async () => {
    const user = cp.kubeConfig.getCurrentUser();
    const res = await httpsRequest(`${cp.server}/apis/kube-irsa.io/v1alpha1/irsachecks`, {
      ca: cp.ca.certPem, headers: { authorization: `Bearer ${user?.token ?? ''}`, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
    });
    assert.equal(res.status, 200);
    const table = JSON.parse(res.body) as { columnDefinitions: Array<{ name: string; priority: number }>; rows: Array<{ cells: unknown[]; object: { metadata: { namespace: string } } }> };
    assert.deepEqual(table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name), ['Name', 'ServiceAccount', 'Role', 'Status', 'Reason', 'Cause', 'Age']);
    const row = table.rows.find((r) => r.cells[0] === 'orders');
    assert.ok(row);
    assert.equal(row.object.metadata.namespace, ns);
    assert.deepEqual(row.cells.slice(1, 5), ['orders', role('orders'), 'Healthy', 'Healthy']);
    assert.equal(row.cells[5] ?? '', '', 'no cause for a healthy identity');
    assert.match(String(row.cells[6]), /^\d+s$/, 'Age is the time since the last probe');
  });

  test('kube-irsa doctor <namespace>/<serviceaccount>: resolves like the webhook, mints a token, shows the shared status and Events', async () => {
    const io = captureIo();
    const code = await runDoctor([`${ns}/orders`, '--kubeconfig', cp.kubeconfigPath, `--sts-endpoint=${sts.endpoint}`, `--issuer-ca-file=${caFile}`], io);
    const out = io.out();
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`ServiceAccount: ${ns}/orders \\(role from service-account\\)`));
    assert.match(out, /Result: Healthy \(healthy\)/);
    assert.match(out, new RegExp(`Shared status \\(IRSACheck ${ns}/orders\\): Healthy / Healthy, last probe .* from node-\\d+`));
    assert.match(out, /Recent Events:\n {2}Normal {2}Healthy/);
    sts.state.updateTrustPolicy(ACCOUNT, 'billing', trust('system:serviceaccount:other:billing'));
    const json = captureIo();
    assert.equal(await runDoctor([`${ns}/billing`, '--kubeconfig', cp.kubeconfigPath, `--sts-endpoint=${sts.endpoint}`, `--issuer-ca-file=${caFile}`, '--output=json'], json), 2);
    assert.equal((JSON.parse(json.out()) as { reason: string }).reason, 'TrustPolicyDenied');
    sts.state.updateTrustPolicy(ACCOUNT, 'billing', trust(`system:serviceaccount:${ns}:billing`));
    const none = captureIo();
    assert.equal(await runDoctor([`${ns}/default`, '--kubeconfig', cp.kubeconfigPath], none), 1);
    assert.match(none.err(), /has no AWS role/);
  });

  test('IRSAChecks of ServiceAccounts that lost their role or were deleted are removed', async () => {
    await kube.core.patchNamespacedServiceAccount({ namespace: ns, name: 'reports', body: [{ op: 'remove', path: '/metadata/annotations/eks.amazonaws.com~1role-arn' }] });
    await kube.core.deleteNamespacedServiceAccount({ namespace: ns, name: 'search' });
    for (const sa of ['reports', 'search']) {
      await eventually(async () => {
        try {
          await readCheck(sa);
          return undefined;
        } catch (err) {
          return (err as { code?: number }).code === 404 ? true : undefined;
        }
      }, `the IRSACheck of ${sa} to be removed`, 15_000);
    }
    await readCheck('orders'); // the others stay
  });
});
