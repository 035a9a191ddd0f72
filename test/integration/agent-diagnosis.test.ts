// IAM-aware diagnosis against the real API server, the real webhook, the STS emulator (its STS and
// IAM sides through the real AWS SDK) and the agent: the cause in the Event, the IRSACheck status
// and `doctor`; the verdict and message unchanged plus one hint when IAM cannot be read; nothing
// secret and no trust policy in the logs; IAM read at most once per TTL per role across the fleet.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CustomObjectsApi, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { eventMessage } from '../../agent/core/messages.ts';
import { runDoctor } from '../../agent/doctor-command.ts';
import { IRSACHECK, type IRSACheck } from '../../agent/fleet.ts';
import { startAgent, type RunningAgent } from '../../agent/main.ts';
import { parseFlags } from '../../shared/cli/flags.ts';
import { freePorts, startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers, PAUSE_IMAGE } from '../cluster/kube-helpers.ts';
import { applyManifestFile } from '../cluster/manifests.ts';
import { newAccessKeyId } from '../sts-emulator/access-keys.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { stopAgentScenario } from '../support/agent-scenario.ts';
import { captureIo } from '../support/io-capture.ts';
import { writeProjectedToken } from '../support/kubelet-dir.ts';
import { captureLogs, findSecrets, type CapturedLogs } from '../support/log-capture.ts';
import { startWebhookHarness, TEST_NAMESPACE_LABEL, waitForMutation, type WebhookHarness } from '../support/webhook-harness.ts';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const NS = 'shop';
const TTL_MS = 4_000;
const CRD = path.join(import.meta.dirname, '..', '..', 'deploy', 'kube-irsa', 'crds', 'irsachecks.kube-irsa.io.yaml');
const role = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:role/${name}`;
const subOf = (sa: string, ns = NS) => `system:serviceaccount:${ns}:${sa}`;
const READER = { name: 'kube-irsa-agent', accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: 'r'.repeat(39) + 'x', allowIamReads: true };
const DENIED = { name: 'kube-irsa-agent-no-iam', accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: 'd'.repeat(39) + 'x', allowIamReads: false };

interface TestAgent {
  readonly running: RunningAgent;
  readonly logs: CapturedLogs;
  readonly node: string;
}

describe('IAM-aware diagnosis in the agent, Events, IRSACheck and doctor', () => {
  let cp: ControlPlane;
  let kube: KubeHelpers;
  let sts: StsEmulator;
  let hook: WebhookHarness;
  let kubeletRoot: string;
  let caFile: string;
  let providerUrl: string;
  const agents: TestAgent[] = [];
  const policies: string[] = [];

  const trust = (sub: string, account = ACCOUNT) => ({
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${account}:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: { [`${providerUrl}:sub`]: sub, [`${providerUrl}:aud`]: 'sts.amazonaws.com' } },
    }],
  });

  async function startTestAgent(node: string, extra: string[] = [], credentials?: { accessKeyId: string; secretAccessKey: string }): Promise<TestAgent> {
    const logs = captureLogs('agent');
    const { values } = parseFlags(AGENT_FLAGS, [
      `--node-name=${node}`, '--kubeconfig', cp.kubeconfigPath, '--token-source=kubelet', `--kubelet-root-dir=${kubeletRoot}`,
      `--sts-endpoint=${sts.endpoint}`, `--issuer-ca-file=${caFile}`, '--region=us-west-2',
      '--recheck-interval=2s', '--misconfigured-recheck-interval=500ms', '--retry-interval=500ms', '--sts-qps=100', '--token-wait=3s',
      '--iam-reads', `--iam-endpoint=${sts.endpoint}`, `--iam-cache-ttl=${TTL_MS}ms`, '--port=0', '--bind-address=127.0.0.1', ...extra,
    ]);
    const running = await startAgent(buildAgentConfig(values).config, logs.logger, () => 0.5,
      credentials ? { awsCredentials: () => Promise.resolve({ accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }) } : {});
    const a = { running, logs, node };
    agents.push(a);
    return a;
  }

  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
    await applyManifestFile(cp.kubeConfig, CRD);
    providerUrl = cp.issuer.replace('https://', '');
    sts = await StsEmulator.start({
      extraCaPems: [cp.ca.certPem],
      config: {
        region: 'us-west-2',
        accounts: [
          { id: ACCOUNT, oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }], users: [READER, DENIED] },
          { id: OTHER_ACCOUNT, oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }] },
        ],
      },
    });
    // the agents and doctor find their AWS credentials through the SDK's default chain, as in a cluster
    process.env.AWS_ACCESS_KEY_ID = READER.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = READER.secretAccessKey;
    hook = await startWebhookHarness(cp, ['--aws-default-region=us-west-2']);
    await hook.register();
    await kube.core.createNamespace({ body: { metadata: { name: NS, labels: { [TEST_NAMESPACE_LABEL]: 'on' } } } });
    await kube.createServiceAccount(NS, 'default');
    kubeletRoot = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-diagnosis-'));
    caFile = path.join(kubeletRoot, 'issuer-ca.pem');
    await writeFile(caFile, cp.ca.certPem);
  });
  after(() => stopAgentScenario({ agents, hook, sts, cp, kubeletRoot }));

  /** A ServiceAccount, its role (unless null) and one pod per node, mutated by the real webhook, with their tokens. */
  async function setUp(sa: string, opts: { trustPolicy?: unknown; roleArn?: string; nodes: string[] }): Promise<V1Pod[]> {
    const roleArn = opts.roleArn ?? role(sa);
    await kube.createServiceAccount(NS, sa, { 'eks.amazonaws.com/role-arn': roleArn });
    await waitForMutation(kube, NS, sa);
    if (opts.trustPolicy !== null) {
      const [, account = '', name = ''] = /^arn:aws:iam::(\d{12}):role\/(.+)$/.exec(roleArn) ?? [];
      sts.state.putRole(account, { name, trustPolicy: opts.trustPolicy ?? trust(subOf(sa)) });
      policies.push(JSON.stringify(opts.trustPolicy ?? trust(subOf(sa))));
    }
    const pods: V1Pod[] = [];
    for (const [i, node] of opts.nodes.entries()) {
      const pod = await kube.createPod(NS, `${sa}-${i}`, { serviceAccountName: sa, nodeName: node, containers: [{ name: 'app', image: PAUSE_IMAGE }] });
      await writeProjectedToken(kubeletRoot, pod.metadata!.uid!, 'aws-iam-token', 'token', await kube.tokenForPod(pod, { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 }));
      pods.push(pod);
    }
    return pods;
  }

  async function verdict(agent: TestAgent, pod: V1Pod, reason: string, cause?: string) {
    const name = pod.metadata!.name!;
    const v = await eventually(() => {
      const r = agent.running.agent.podVerdict(NS, name);
      return r?.reason === reason && (cause === undefined || r.diagnosis?.cause === cause) ? r : undefined;
    }, `pod ${name} to be reported ${reason}${cause ? `/${cause}` : ''} (now ${agent.running.agent.podVerdict(NS, name)?.reason ?? 'unchecked'}/${agent.running.agent.podVerdict(NS, name)?.diagnosis?.cause ?? '-'})`, 20_000, 50);
    await agent.running.agent.settle();
    return v;
  }

  async function warning(kind: 'Pod' | 'ServiceAccount', name: string, reason: string, match: RegExp): Promise<CoreV1Event> {
    return await eventually(async () => (await kube.core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` }))
      .items.find((e) => e.reason === reason && e.type === 'Warning' && match.test(e.message ?? '')), `a ${reason} Event on ${kind} ${name} matching ${match}`, 10_000);
  }

  const readCheck = async (sa: string) => (await cp.kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...IRSACHECK, namespace: NS, name: sa })) as IRSACheck;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  test('payments (trust names shop-prod, the pod runs in shop): TrustPolicyDenied, cause SubjectMismatch in the Event, IRSACheck and doctor; the correction is accepted', async () => {
    const agentA = await startTestAgent('node-a');
    const [pod] = await setUp('payments', { trustPolicy: trust(subOf('payments', 'shop-prod')), nodes: ['node-a'] });
    const v = await verdict(agentA, pod!, 'TrustPolicyDenied', 'SubjectMismatch');
    assert.equal(v.verdict, 'misconfigured');
    const change = `"system:serviceaccount:shop-prod:payments" → "system:serviceaccount:shop:payments"`;
    for (const [kind, name] of [['Pod', 'payments-0'], ['ServiceAccount', 'payments']] as const) {
      const e = await warning(kind, name, 'TrustPolicyDenied', /Cause: SubjectMismatch/);
      assert.match(e.message ?? '', new RegExp(`the token has "system:serviceaccount:shop:payments" \\(the namespace differs\\)`));
      assert.ok(e.message?.includes(`Fix: Statement[0] Condition.StringEquals."${providerUrl}:sub": ${change}`), e.message);
      assert.ok(Buffer.byteLength(e.message ?? '') <= 1024);
    }
    const check = await eventually(async () => {
      const c = await readCheck('payments');
      return c.status?.cause === 'SubjectMismatch' ? c : undefined;
    }, 'the IRSACheck to carry the cause', 10_000);
    assert.equal(check.status?.reason, 'TrustPolicyDenied');
    assert.equal(check.status?.diagnosis?.findings?.[0]?.change.includes(change), true);
    assert.match(check.status?.message ?? '', /Cause: SubjectMismatch/);
    // the metric keeps the reason as its only label: no new series per cause
    const metrics = await (await fetch(`http://127.0.0.1:${agentA.running.port}/metrics`)).text();
    assert.match(metrics, /kube_irsa_agent_serviceaccount_health\{serviceaccount_namespace="shop",serviceaccount="payments",reason="TrustPolicyDenied",status="misconfigured"\} 1/);
    assert.doesNotMatch(metrics, /SubjectMismatch/);

    const doctorArgs = ['shop/payments', '--kubeconfig', cp.kubeconfigPath, `--sts-endpoint=${sts.endpoint}`, `--issuer-ca-file=${caFile}`, '--region=us-west-2', '--iam-reads', `--iam-endpoint=${sts.endpoint}`];
    const text = captureIo();
    assert.equal(await runDoctor(doctorArgs, text), 2, text.err());
    assert.match(text.out(), /Cause: SubjectMismatch\n/);
    assert.ok(text.out().includes(`change: Statement[0] Condition.StringEquals."${providerUrl}:sub": ${change}`), text.out());
    assert.match(text.out(), /Shared status \(IRSACheck shop\/payments\): Misconfigured \/ TrustPolicyDenied \(cause SubjectMismatch\)/);
    const json = captureIo();
    assert.equal(await runDoctor([...doctorArgs, '--output=json'], json), 2);
    const report = JSON.parse(json.out()) as { reason: string; cause: string; diagnosis: { correctedTrustPolicy: unknown } };
    assert.equal(report.reason, 'TrustPolicyDenied');
    assert.equal(report.cause, 'SubjectMismatch');
    assert.deepEqual(report.diagnosis.correctedTrustPolicy, trust(subOf('payments')), 'the whole corrected document');
    assert.deepEqual(findSecrets(text.out() + json.out()), []);

    // fed back to IAM, the corrected policy is accepted by STS and the agent sees the identity recover
    sts.state.updateTrustPolicy(ACCOUNT, 'payments', report.diagnosis.correctedTrustPolicy);
    await verdict(agentA, pod!, 'Healthy');
  });

  test('a role that does not exist: TrustPolicyDenied with cause RoleNotFound', async () => {
    const agentA = agents.find((a) => a.node === 'node-a')!;
    const [pod] = await setUp('ghost', { trustPolicy: null, nodes: ['node-a'] });
    await verdict(agentA, pod!, 'TrustPolicyDenied', 'RoleNotFound');
    const e = await warning('Pod', 'ghost-0', 'TrustPolicyDenied', /Cause: RoleNotFound/);
    assert.match(e.message ?? '', /Role ghost does not exist in account 111122223333 \(IAM GetRole: NoSuchEntity\)\. Fix: create role ghost/);
    assert.equal((await readCheck('ghost')).status?.cause, 'RoleNotFound');
  });

  test('IAM reads denied, IAM unreachable, a role in another account: the verdict and message are today\'s plus one hint', async () => {
    const [closed] = await freePorts(1);
    const denied = await startTestAgent('node-d', [], DENIED);
    const unreachable = await startTestAgent('node-e', [`--iam-endpoint=http://127.0.0.1:${closed}`]);
    const agentA = agents.find((a) => a.node === 'node-a')!;
    const cases = [
      { agent: denied, sa: 'denied', hint: `Cause not pinpointed: IAM refused the agent's read (AccessDenied); allowing iam:GetRole on ${role('denied')} would pinpoint it (docs/security.md).` },
      { agent: unreachable, sa: 'unreachable', hint: new RegExp(`^Cause not pinpointed: IAM could not be read \\(\\w+\\); iam:GetRole on ${esc(role('unreachable'))} would pinpoint it\\.$`) },
      { agent: agentA, sa: 'elsewhere', roleArn: role('elsewhere', OTHER_ACCOUNT), hint: `Cause not pinpointed: role ${role('elsewhere', OTHER_ACCOUNT)} is in account ${OTHER_ACCOUNT}, the agent's AWS credentials are in ${ACCOUNT}; iam:GetRole on ${role('elsewhere', OTHER_ACCOUNT)} from that account would pinpoint it.` },
    ];
    for (const c of cases) {
      const roleArn = c.roleArn ?? role(c.sa);
      const account = c.roleArn ? OTHER_ACCOUNT : ACCOUNT;
      const [pod] = await setUp(c.sa, { roleArn, trustPolicy: trust(subOf(c.sa, 'elsewhere'), account), nodes: [c.agent.node] });
      const v = await verdict(c.agent, pod!, 'TrustPolicyDenied');
      const hint = await eventually(() => c.agent.running.agent.podVerdict(NS, `${c.sa}-0`)?.diagnosis?.hint, `the hint for ${c.sa}`, 10_000);
      assert.equal(v.verdict, 'misconfigured');
      assert.equal(v.diagnosis?.cause, undefined, 'no cause without IAM');
      if (typeof c.hint === 'string') assert.equal(hint, c.hint);
      else assert.match(hint, c.hint);
      // today's message, computed as before this change, then the hint on its own line
      const today = eventMessage({ reason: v.reason, detail: v.detail, roleArn, audience: 'sts.amazonaws.com', namespace: NS, serviceAccount: c.sa, claims: v.claims, ...(v.stsError ? { stsError: v.stsError } : {}) });
      assert.match(today, /Fix: the trust policy of role .* must allow Principal\.Federated/);
      const e = await warning('Pod', `${c.sa}-0`, 'TrustPolicyDenied', /Cause not pinpointed/);
      assert.equal(e.message, `${today}\n${hint}`);
      assert.equal((await readCheck(c.sa)).status?.reason, 'TrustPolicyDenied');
    }
    assert.ok(sts.count({ action: 'GetRole', result: 'AccessDenied' }) >= 1, 'the denied agent asked IAM');
  });

  test('IAM is read at most once per TTL per role across the fleet (three agents sharing the IRSACheck)', async () => {
    const nodes = ['fleet-1', 'fleet-2', 'fleet-3'];
    const fleet = [];
    for (const n of nodes) fleet.push(await startTestAgent(n));
    const started = Date.now();
    const firstRequest = sts.requests.length;
    const pods = await setUp('fleet', { trustPolicy: trust(subOf('fleet', 'shop-prod')), nodes });
    for (const [i, pod] of pods.entries()) await verdict(fleet[i]!, pod, 'TrustPolicyDenied', 'SubjectMismatch');
    // keep the three agents re-checking the misconfigured identity for three TTLs
    await new Promise((r) => setTimeout(r, 3 * TTL_MS));
    const window = (Date.now() - started) / 1000;
    const calls = sts.requests.slice(firstRequest).filter((r) => r.roleArn === role('fleet'));
    const probes = calls.filter((r) => r.action === 'AssumeRoleWithWebIdentity');
    const reads = calls.filter((r) => r.action === 'GetRole').map((r) => Date.parse(r.time));
    const gaps = reads.slice(1).map((t, i) => t - reads[i]!);
    console.log(`fleet of 3 over ${window.toFixed(1)} s: ${probes.length} STS probes, ${reads.length} GetRole reads (TTL ${TTL_MS / 1000} s), gaps ${gaps.map((g) => `${(g / 1000).toFixed(1)} s`).join(', ')}`);
    assert.ok(probes.length >= 4, `the identity was probed again and again (${probes.length})`);
    assert.ok(reads.length >= 1 && reads.length <= Math.ceil(window * 1000 / TTL_MS) + 1, `${reads.length} reads in ${window} s`);
    // the TTL runs from the moment before the read: allow for the read's own latency
    for (const g of gaps) assert.ok(g >= TTL_MS - 500, `two reads ${g} ms apart`);
    const explainedBy = new Set(fleet.flatMap((a) => a.logs.find('IAM read to explain a refusal').filter((l) => l.roleArn === role('fleet')).map(() => a.node)));
    assert.ok(explainedBy.size >= 1);
  });

  test('no token, credential or trust policy in any agent\'s logs', async () => {
    for (const a of agents) {
      const text = a.logs.text();
      assert.deepEqual(findSecrets(text), [], `${a.node} logs`);
      for (const secret of [READER.secretAccessKey, DENIED.secretAccessKey, READER.accessKeyId, DENIED.accessKeyId]) assert.ok(!text.includes(secret), `${a.node}: a credential`);
      for (const p of policies) assert.ok(!text.includes(p), `${a.node}: a trust policy`);
      assert.doesNotMatch(text, /Statement|AssumeRolePolicyDocument|sts:AssumeRoleWithWebIdentity"/, `${a.node}: part of a trust policy`);
    }
    // the logs looked at are the ones that read IAM and reported causes and hints
    assert.ok(agents.some((a) => a.logs.find('identity checked').some((l) => l.cause === 'SubjectMismatch')));
    assert.ok(agents.some((a) => a.logs.find('IAM read to explain a refusal').length > 0));
    assert.ok(agents.some((a) => a.logs.find(/^IAM not readable/).length > 0));
    const events = (await kube.core.listNamespacedEvent({ namespace: NS })).items.map((e) => e.message ?? '').join('\n');
    assert.deepEqual(findSecrets(events), []);
  });
});
