// The agent on a (simulated) node against the real API server, the real webhook and the STS
// emulator through the real AWS SDK: one test per failure mode, each asserting the reason, the
// Events on the Pod and the ServiceAccount, the metric, and that nothing secret was logged.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { randomBytes } from 'node:crypto';
import type { CoreV1Event, V1EnvFromSource, V1Pod } from '@kubernetes/client-node';
import { parseFlags } from '../../shared/cli/flags.ts';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { runDoctor } from '../../agent/doctor-command.ts';
import { startAgent, type RunningAgent } from '../../agent/main.ts';
import { startControlPlane, freePorts, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers, PAUSE_IMAGE } from '../cluster/kube-helpers.ts';
import { newAccessKeyId } from '../sts-emulator/access-keys.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { foreignToken } from '../support/foreign-token.ts';
import { stopAgentScenario } from '../support/agent-scenario.ts';
import { captureIo } from '../support/io-capture.ts';
import { writeProjectedToken } from '../support/kubelet-dir.ts';
import { captureLogs, findSecrets, type CapturedLogs } from '../support/log-capture.ts';
import { KEPT_NAME_PROBLEMS, lintMetrics } from '../support/promtool.ts';
import { startWebhookHarness, TEST_NAMESPACE_LABEL, waitForMutation, type WebhookHarness } from '../support/webhook-harness.ts';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const role = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:role/${name}`;

interface RunningTestAgent {
  readonly running: RunningAgent;
  readonly logs: CapturedLogs;
  readonly node: string;
  metrics(): Promise<string>;
}

describe('agent scenarios', () => {
  let cp: ControlPlane;
  let kube: KubeHelpers;
  let sts: StsEmulator;
  let hook: WebhookHarness;
  let kubeletRoot: string;
  let ns: string;
  let providerUrl: string;
  const agents: RunningTestAgent[] = [];
  let agentA: RunningTestAgent;

  const trust = (sub: string, opts: { op?: string; aud?: string } = {}) => ({
    Version: '2012-10-17',
    Statement: [{
      Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { [opts.op ?? 'StringEquals']: { [`${providerUrl}:sub`]: sub, [`${providerUrl}:aud`]: opts.aud ?? 'sts.amazonaws.com' } },
    }],
  });
  const subOf = (sa: string) => `system:serviceaccount:${ns}:${sa}`;

  async function startTestAgent(node: string, extra: string[] = []): Promise<RunningTestAgent> {
    const logs = captureLogs('agent');
    const caFile = path.join(kubeletRoot, 'issuer-ca.pem');
    await writeFile(caFile, cp.ca.certPem);
    const { values } = parseFlags(AGENT_FLAGS, [
      `--node-name=${node}`, '--kubeconfig', cp.kubeconfigPath, '--token-source=kubelet', `--kubelet-root-dir=${kubeletRoot}`,
      `--sts-endpoint=${sts.endpoint}`, `--issuer-ca-file=${caFile}`, '--region=us-west-2',
      '--recheck-interval=2s', '--misconfigured-recheck-interval=1s', '--retry-interval=500ms', '--sts-qps=100', '--token-wait=3s',
      '--port=0', '--bind-address=127.0.0.1', ...extra,
    ]);
    const running = await startAgent(buildAgentConfig(values).config, logs.logger, () => 0.5);
    const a = { running, logs, node, metrics: async () => (await fetch(`http://127.0.0.1:${running.port}/metrics`)).text() };
    agents.push(a);
    return a;
  }

  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
    providerUrl = cp.issuer.replace('https://', '');
    sts = await StsEmulator.start({
      extraCaPems: [cp.ca.certPem],
      config: { region: 'us-west-2', accounts: [{ id: ACCOUNT, oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }] }, { id: OTHER_ACCOUNT }] },
    });
    hook = await startWebhookHarness(cp, ['--aws-default-region=us-west-2']);
    await hook.register();
    ns = await kube.createNamespace('agent', { [TEST_NAMESPACE_LABEL]: 'on' });
    await kube.createServiceAccount(ns, 'probe', { 'eks.amazonaws.com/role-arn': role('probe') });
    await waitForMutation(kube, ns, 'probe');
    kubeletRoot = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-kubelet-'));
    agentA = await startTestAgent('node-a');
  });
  after(() => stopAgentScenario({ agents, hook, sts, cp, kubeletRoot }));

  /** A ServiceAccount (and its role in the emulator) and a pod on the node, mutated by the real webhook. */
  async function setUp(sa: string, opts: {
    annotations?: Record<string, string>; trustPolicy?: unknown; roleName?: string; node?: string;
    podLabels?: Record<string, string>; env?: Array<{ name: string; value: string }>; envFrom?: V1EnvFromSource[];
    token?: 'minted' | 'none' | ((pod: V1Pod) => Promise<string>);
  } = {}): Promise<V1Pod> {
    const roleName = opts.roleName ?? sa;
    await kube.createServiceAccount(ns, sa, opts.annotations ?? { 'eks.amazonaws.com/role-arn': role(roleName) });
    if (opts.trustPolicy !== null) sts.state.putRole(ACCOUNT, { name: roleName, trustPolicy: opts.trustPolicy ?? trust(subOf(sa)) });
    const pod = await kube.createPod(ns, `${sa}-0`, {
      serviceAccountName: sa, nodeName: opts.node ?? 'node-a',
      containers: [{ name: 'app', image: PAUSE_IMAGE, ...(opts.env ? { env: opts.env } : {}), ...(opts.envFrom ? { envFrom: opts.envFrom } : {}) }],
    }, { labels: opts.podLabels ?? {} });
    const volume = pod.spec?.volumes?.find((v) => v.name === 'aws-iam-token');
    const audience = volume?.projected?.sources?.[0]?.serviceAccountToken?.audience ?? 'sts.amazonaws.com';
    if (volume && opts.token !== 'none') {
      const token = typeof opts.token === 'function' ? await opts.token(pod) : await kube.tokenForPod(pod, { audiences: [audience], expirationSeconds: 3600 });
      await writeProjectedToken(kubeletRoot, pod.metadata!.uid!, 'aws-iam-token', 'token', token);
    }
    return pod;
  }

  /** A token from a key rotated out of the issuer's JWKS, issued two hours ago. */
  const rotatedOutToken = (claims: Record<string, unknown>, expSeconds = 3600) => foreignToken(claims, { kid: 'rotated-out', expSeconds, issuedSecondsAgo: 7200 });

  async function verdict(pod: V1Pod, reason: string, agent = agentA) {
    const v = await eventually(() => {
      const r = agent.running.agent.podVerdict(pod.metadata!.namespace!, pod.metadata!.name!);
      return r?.reason === reason ? r : undefined;
    }, `pod ${pod.metadata?.name} to be reported ${reason} (now ${agent.running.agent.podVerdict(pod.metadata!.namespace!, pod.metadata!.name!)?.reason ?? 'unchecked'})`, 20_000, 50);
    await agent.running.agent.settle();
    return v;
  }

  async function eventsFor(kind: 'Pod' | 'ServiceAccount', name: string, namespace = ns): Promise<CoreV1Event[]> {
    return (await kube.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}` })).items;
  }

  /** The reason's Events exist on the pod and on its ServiceAccount, with the given type. */
  async function expectEvents(pod: V1Pod, reason: string, type: 'Warning' | 'Normal', messageMatch?: RegExp): Promise<void> {
    const sa = pod.spec!.serviceAccountName!;
    for (const [kind, name] of [['Pod', pod.metadata!.name!], ['ServiceAccount', sa]] as const) {
      const list = await eventually(async () => {
        const evs = (await eventsFor(kind, name, pod.metadata!.namespace)).filter((e) => e.reason === reason && e.type === type);
        return evs.length > 0 ? evs : undefined;
      }, `a ${type} ${reason} Event on ${kind} ${name}`, 10_000);
      assert.equal(list[0]!.source?.component, 'kube-irsa-agent');
      assert.equal(list[0]!.reportingComponent, 'kube-irsa.io/agent');
      if (messageMatch) assert.match(list[0]!.message ?? '', messageMatch);
      assert.ok(Buffer.byteLength(list[0]!.message ?? '') <= 1024);
      assert.deepEqual(findSecrets(list[0]!.message ?? ''), []);
    }
  }

  async function expectHealthMetric(sa: string, reason: string, status: string, agent = agentA, namespace = ns): Promise<void> {
    const text = await agent.metrics();
    assert.match(text, new RegExp(`kube_irsa_agent_serviceaccount_health\\{serviceaccount_namespace="${namespace}",serviceaccount="${sa}",reason="${reason}",status="${status}"\\} 1`));
  }

  test('healthy: STS accepts the token; Normal Events; metric healthy', async () => {
    const pod = await setUp('healthy');
    const v = await verdict(pod, 'Healthy');
    assert.equal(v.claims?.sub, subOf('healthy'));
    await expectEvents(pod, 'Healthy', 'Normal', /verified: role .* can be assumed/);
    await expectHealthMetric('healthy', 'Healthy', 'healthy');
    const calls = sts.requests.filter((r) => r.roleArn === role('healthy'));
    assert.ok(calls.length >= 1 && calls.every((r) => r.roleSessionName === 'kube-irsa-node-a'), 'probes identify kube-irsa and the node');
  });

  test('a trust policy with the wrong namespace in sub: TrustPolicyDenied with the fix', async () => {
    const pod = await setUp('wrong-ns', { trustPolicy: trust('system:serviceaccount:other-namespace:wrong-ns') });
    await verdict(pod, 'TrustPolicyDenied');
    await expectEvents(pod, 'TrustPolicyDenied', 'Warning',
      new RegExp(`must allow Principal.Federated .*oidc-provider/${providerUrl.replace(/[.]/g, '\\.')}.*"${providerUrl.replace(/[.]/g, '\\.')}:sub" = "system:serviceaccount:${ns}:wrong-ns"`));
    await expectEvents(pod, 'TrustPolicyDenied', 'Warning', new RegExp(`Token: iss=${cp.issuer.replace(/[.]/g, '\\.')} aud=sts\\.amazonaws\\.com sub=system:serviceaccount:${ns}:wrong-ns`));
    await expectHealthMetric('wrong-ns', 'TrustPolicyDenied', 'misconfigured');
  });

  test('StringEquals used with a wildcard: TrustPolicyDenied', async () => {
    const pod = await setUp('equals-wildcard', { trustPolicy: trust(`system:serviceaccount:${ns}:*`) });
    await verdict(pod, 'TrustPolicyDenied');
    await expectEvents(pod, 'TrustPolicyDenied', 'Warning', /StringLike for wildcards/);
    await expectHealthMetric('equals-wildcard', 'TrustPolicyDenied', 'misconfigured');
  });

  test('an aud condition that does not match: TrustPolicyDenied', async () => {
    const pod = await setUp('aud-condition', { trustPolicy: trust(subOf('aud-condition'), { aud: 'sts.amazonaws.com.cn' }) });
    await verdict(pod, 'TrustPolicyDenied');
    await expectEvents(pod, 'TrustPolicyDenied', 'Warning');
    await expectHealthMetric('aud-condition', 'TrustPolicyDenied', 'misconfigured');
  });

  test('no OIDC provider in the role\'s account: OIDCProviderNotFound', async () => {
    const pod = await setUp('no-provider', { annotations: { 'eks.amazonaws.com/role-arn': role('no-provider', OTHER_ACCOUNT) }, trustPolicy: null });
    await verdict(pod, 'OIDCProviderNotFound');
    await expectEvents(pod, 'OIDCProviderNotFound', 'Warning', new RegExp(`create an IAM OIDC provider with URL ${cp.issuer.replace(/[.]/g, '\\.')} in the account of ${role('no-provider', OTHER_ACCOUNT)}`));
    await expectHealthMetric('no-provider', 'OIDCProviderNotFound', 'misconfigured');
  });

  test('a provider without the audience among its client IDs: IncorrectAudience', async () => {
    const pod = await setUp('custom-aud', { annotations: { 'eks.amazonaws.com/role-arn': role('custom-aud'), 'eks.amazonaws.com/audience': 'custom-audience' } });
    await verdict(pod, 'IncorrectAudience');
    await expectEvents(pod, 'IncorrectAudience', 'Warning', /add "custom-audience" to the client IDs/);
    await expectHealthMetric('custom-aud', 'IncorrectAudience', 'misconfigured');
  });

  test('issuer discovery unreachable: IssuerDiscoveryUnreachable', async () => {
    const [closed] = await freePorts(1);
    const pod = await setUp('no-discovery', { token: () => rotatedOutToken({ iss: `https://127.0.0.1:${closed}`, sub: subOf('no-discovery'), aud: 'sts.amazonaws.com' }) });
    await verdict(pod, 'IssuerDiscoveryUnreachable');
    await expectEvents(pod, 'IssuerDiscoveryUnreachable', 'Warning', /discovery document of issuer https:\/\/127\.0\.0\.1:\d+ cannot be fetched/);
    await expectHealthMetric('no-discovery', 'IssuerDiscoveryUnreachable', 'misconfigured');
  });

  test('the signing key rotated out of the JWKS: SigningKeyNotInJWKS', async () => {
    const pod = await setUp('rotated-key', { token: () => rotatedOutToken({ iss: cp.issuer, sub: subOf('rotated-key'), aud: 'sts.amazonaws.com' }) });
    await verdict(pod, 'SigningKeyNotInJWKS');
    await expectEvents(pod, 'SigningKeyNotInJWKS', 'Warning', /not in the JWKS/);
    await expectHealthMetric('rotated-key', 'SigningKeyNotInJWKS', 'misconfigured');
  });

  test('an expired token file: TokenExpired', async () => {
    const pod = await setUp('expired', { token: () => rotatedOutToken({ iss: cp.issuer, sub: subOf('expired'), aud: 'sts.amazonaws.com' }, -60) });
    await verdict(pod, 'TokenExpired');
    await expectEvents(pod, 'TokenExpired', 'Warning', /the token expired at/);
    await expectHealthMetric('expired', 'TokenExpired', 'misconfigured');
  });

  test('an unreadable token file: TokenUnreadable, once the kubelet had time to mount it', async () => {
    const pod = await setUp('unreadable', { token: 'none' });
    // checked and told to wait: only a finished check puts the next one in the future
    await eventually(() => ((agentA.running.agent.nextCheckAt(ns, 'unreadable-0') ?? 0) > Date.now() ? true : undefined), 'the first check of the pod without a token', 10_000, 20);
    assert.equal(agentA.running.agent.podVerdict(ns, 'unreadable-0'), undefined, 'no verdict while the token may still be on its way');
    await verdict(pod, 'TokenUnreadable');
    await expectEvents(pod, 'TokenUnreadable', 'Warning', /cannot read .*kubernetes\.io~projected\/aws-iam-token\/token \(ENOENT\)/);
    await expectHealthMetric('unreadable', 'TokenUnreadable', 'misconfigured');
  });

  test('a malformed role ARN: InvalidRoleArn (the webhook warned, the pod was admitted)', async () => {
    const pod = await setUp('bad-arn', { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::::1234567890:role/example' }, trustPolicy: null });
    await verdict(pod, 'InvalidRoleArn');
    await expectEvents(pod, 'InvalidRoleArn', 'Warning', /is not a well-formed IAM role ARN/);
    await expectHealthMetric('bad-arn', 'InvalidRoleArn', 'misconfigured');
  });

  test('an AWS_ROLE_SESSION_NAME that breaks STS\'s pattern: InvalidSessionName', async () => {
    const pod = await setUp('session-name', { env: [{ name: 'AWS_ROLE_SESSION_NAME', value: 'my app/session:1' }] });
    await verdict(pod, 'InvalidSessionName');
    await expectEvents(pod, 'InvalidSessionName', 'Warning', /AWS_ROLE_SESSION_NAME "my app\/session:1"/);
    await expectHealthMetric('session-name', 'InvalidSessionName', 'misconfigured');
  });

  // static keys made at run time: the Events are scanned for them (findSecrets) as for tokens
  const staticKeys = () => ({ AWS_ACCESS_KEY_ID: newAccessKeyId('AKIA'), AWS_SECRET_ACCESS_KEY: randomBytes(30).toString('base64') });

  test('static keys in the pod\'s env: CredentialsShadowed naming the variables and where, never a value', async () => {
    const pod = await setUp('static-keys', { env: Object.entries(staticKeys()).map(([name, value]) => ({ name, value })) });
    const v = await verdict(pod, 'CredentialsShadowed');
    assert.match(v.detail, /AWS_ACCESS_KEY_ID in container app \(env\), AWS_SECRET_ACCESS_KEY in container app \(env\); static keys/);
    await expectEvents(pod, 'CredentialsShadowed', 'Warning', /AWS_ACCESS_KEY_ID in container app \(env\)/);
    await expectHealthMetric('static-keys', 'CredentialsShadowed', 'misconfigured');
  });

  test('AWS_PROFILE in the pod\'s env: CredentialsShadowed', async () => {
    const pod = await setUp('profile', { env: [{ name: 'AWS_PROFILE', value: 'production' }] });
    await verdict(pod, 'CredentialsShadowed');
    await expectEvents(pod, 'CredentialsShadowed', 'Warning', /AWS_PROFILE in container app \(env\); a profile/);
  });

  test('static keys from envFrom of a Secret: CredentialsShadowed naming the Secret', async () => {
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'aws-keys' }, stringData: { ...staticKeys(), OTHER: 'x' } } });
    const pod = await setUp('secret-keys', { envFrom: [{ secretRef: { name: 'aws-keys' } }] });
    await verdict(pod, 'CredentialsShadowed');
    await expectEvents(pod, 'CredentialsShadowed', 'Warning', /AWS_ACCESS_KEY_ID in container app \(envFrom Secret aws-keys\), AWS_SECRET_ACCESS_KEY in container app \(envFrom Secret aws-keys\)/);
  });

  test('web identity only (envFrom of a ConfigMap without credentials, a region): not shadowed', async () => {
    await kube.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'settings' }, data: { LOG_LEVEL: 'debug', AWS_REGION: 'us-west-2' } } });
    const pod = await setUp('web-identity-only', { envFrom: [{ configMapRef: { name: 'settings' } }], env: [{ name: 'AWS_SDK_LOAD_CONFIG', value: '1' }] });
    await verdict(pod, 'Healthy');
    assert.deepEqual((await eventsFor('Pod', pod.metadata!.name!)).filter((e) => e.reason === 'CredentialsShadowed'), []);
  });

  test('a {region} --sts-endpoint: each pod probed in its own region; one STS has disabled is RegionDisabled', async () => {
    sts.disabledRegions.add('af-south-1');
    try {
      const regional = await startTestAgent('node-r', [`--sts-endpoint=${sts.endpoint}/{region}`]);
      const disabled = await setUp('disabled-region', { node: 'node-r', env: [{ name: 'AWS_REGION', value: 'af-south-1' }] });
      const v = await verdict(disabled, 'RegionDisabled', regional);
      assert.equal(v.stsError?.code, 'RegionDisabledException');
      assert.equal(v.stsError?.message, `STS is not activated in this region for account:${ACCOUNT}. Your account administrator can activate STS in this region using the IAM Console.`);
      await expectEvents(disabled, 'RegionDisabled', 'Warning', /STS said RegionDisabledException: STS is not activated in this region/);
      const enabled = await setUp('enabled-region', { node: 'node-r' });
      await verdict(enabled, 'Healthy', regional);
      const regionOf = (sa: string) => [...new Set(sts.requests.filter((r) => r.roleArn === role(sa)).map((r) => r.region))];
      assert.deepEqual(regionOf('disabled-region'), ['af-south-1']);
      assert.deepEqual(regionOf('enabled-region'), ['us-west-2'], 'the region the webhook injected');
    } finally {
      sts.disabledRegions.delete('af-south-1');
    }
  });

  test('a pod admitted without injection: PodNotMutated', async () => {
    // a namespace the webhook is not registered for (the skip label would opt the pod out of the agent's checks too)
    const unhooked = await kube.createNamespace('unhooked');
    await kube.createServiceAccount(unhooked, 'not-mutated', { 'eks.amazonaws.com/role-arn': role('not-mutated') });
    const pod = await kube.createPod(unhooked, 'not-mutated-0', { serviceAccountName: 'not-mutated', nodeName: 'node-a', containers: [{ name: 'app', image: PAUSE_IMAGE }] });
    assert.equal(pod.spec?.volumes?.some((v) => v.name === 'aws-iam-token') ?? false, false, 'the webhook never saw it');
    await verdict(pod, 'PodNotMutated');
    await expectEvents(pod, 'PodNotMutated', 'Warning', /has no web-identity token volume/);
    await expectHealthMetric('not-mutated', 'PodNotMutated', 'misconfigured', agentA, unhooked);
    assert.match(await agentA.metrics(), /kube_irsa_agent_pods_not_mutated [1-9]/);
  });

  test('the ServiceAccount\'s role changed after the pod was created: StaleRole', async () => {
    const pod = await setUp('changed-role');
    await verdict(pod, 'Healthy');
    sts.state.putRole(ACCOUNT, { name: 'changed-role-v2', trustPolicy: trust(subOf('changed-role')) });
    await kube.core.patchNamespacedServiceAccount({ namespace: ns, name: 'changed-role', body: [{ op: 'replace', path: '/metadata/annotations/eks.amazonaws.com~1role-arn', value: role('changed-role-v2') }] });
    await verdict(pod, 'StaleRole');
    await expectEvents(pod, 'StaleRole', 'Warning', new RegExp(`the pod uses role ${role('changed-role')}, but its ServiceAccount now has role ${role('changed-role-v2')}`));
    await expectHealthMetric('changed-role', 'StaleRole', 'misconfigured');
    assert.match(await agentA.metrics(), /kube_irsa_agent_pods_stale_role [1-9]/);
  });

  test('recovery after the trust policy is fixed: Normal Event, metric healthy again', async () => {
    const pod = await setUp('fixed-later', { trustPolicy: trust('system:serviceaccount:nope:nope') });
    await verdict(pod, 'TrustPolicyDenied');
    sts.state.updateTrustPolicy(ACCOUNT, 'fixed-later', trust(subOf('fixed-later')));
    await verdict(pod, 'Healthy');
    await expectEvents(pod, 'Healthy', 'Normal', /works again/);
    await expectHealthMetric('fixed-later', 'Healthy', 'healthy');
  });

  test('STS throttling is inconclusive and does not flip a healthy ServiceAccount', async () => {
    const pod = await setUp('throttled');
    await verdict(pod, 'Healthy');
    const before = sts.count({ roleArn: role('throttled'), result: 'Throttling' });
    sts.faults = { throttleRatePerSecond: 0.000001 };
    try {
      await eventually(() => (sts.count({ roleArn: role('throttled'), result: 'Throttling' }) > before ? true : undefined), 'a throttled re-check', 20_000);
      await agentA.running.agent.settle();
      assert.equal(agentA.running.agent.podVerdict(ns, 'throttled-0')?.reason, 'Healthy', 'still healthy');
      const warnings = [...await eventsFor('Pod', 'throttled-0'), ...await eventsFor('ServiceAccount', 'throttled')].filter((e) => e.type === 'Warning');
      assert.deepEqual(warnings.map((e) => e.reason), [], 'no Warning Event');
      await expectHealthMetric('throttled', 'Healthy', 'healthy');
      assert.match(await agentA.metrics(), /kube_irsa_agent_probes_total\{result="inconclusive",reason="Throttled"\} [1-9]/);
    } finally {
      sts.faults = {};
    }
  });

  test('STS down: STSUnreachable, inconclusive, reported as such', async () => {
    const [closed] = await freePorts(1);
    const agentB = await startTestAgent('node-b', [`--sts-endpoint=http://127.0.0.1:${closed}`]);
    const pod = await setUp('sts-down', { node: 'node-b' });
    await verdict(pod, 'STSUnreachable', agentB);
    await expectEvents(pod, 'STSUnreachable', 'Warning', /STS could not be reached/);
    await expectHealthMetric('sts-down', 'STSUnreachable', 'unknown', agentB);
    assert.match(await agentB.metrics(), /kube_irsa_agent_sts_reachable\{node="node-b"\} 0/);
  });

  test('the token-request source mints a pod-bound token when the pod has not started', async () => {
    const agentC = await startTestAgent('node-c', ['--token-source=token-request']);
    const pod = await setUp('minted', { node: 'node-c', token: 'none' });
    await verdict(pod, 'Healthy', agentC);
    await expectEvents(pod, 'Healthy', 'Normal');
  });

  test('/healthz and /readyz do not depend on STS', async () => {
    for (const a of agents) {
      assert.equal((await fetch(`http://127.0.0.1:${a.running.port}/healthz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${a.running.port}/readyz`)).status, 200);
    }
  });

  describe('kube-irsa doctor', () => {
    async function doctor(...argv: string[]) {
      const io = captureIo();
      const code = await runDoctor(argv, io);
      return { code, out: io.out(), err: io.err() };
    }
    async function tokenFile(sa: string, trustPolicy: unknown): Promise<string> {
      const pod = await setUp(sa, { trustPolicy, node: 'node-z' });
      const file = path.join(kubeletRoot, `${sa}.token`);
      await writeFile(file, await kube.tokenForPod(pod, { audiences: ['sts.amazonaws.com'] }));
      return file;
    }
    const caArgs = () => [`--issuer-ca-file=${path.join(kubeletRoot, 'issuer-ca.pem')}`, `--sts-endpoint=${sts.endpoint}`, '--region=us-west-2'];

    test('healthy: every step passes, exit 0', async () => {
      const file = await tokenFile('doctor-ok', trust(subOf('doctor-ok')));
      const r = await doctor('--token-file', file, '--role-arn', role('doctor-ok'), ...caArgs());
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /✔ STS AssumeRoleWithWebIdentity/);
      assert.match(r.out, /Result: Healthy \(healthy\)/);
    });
    test('misconfigured: the reason and the fix, exit 2; JSON for tools', async () => {
      const file = await tokenFile('doctor-bad', trust('system:serviceaccount:x:y'));
      const text = await doctor('--token-file', file, '--role-arn', role('doctor-bad'), ...caArgs());
      assert.equal(text.code, 2);
      assert.match(text.out, /✘ STS AssumeRoleWithWebIdentity: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity/);
      assert.match(text.out, new RegExp(`Fix: the trust policy of role doctor-bad must allow .*"system:serviceaccount:${ns}:doctor-bad"`));
      const json = await doctor('--token-file', file, '--role-arn', role('doctor-bad'), '--output=json', ...caArgs());
      const report = JSON.parse(json.out) as { reason: string; verdict: string; steps: Array<{ status: string }>; token: { sub: string } };
      assert.equal(report.reason, 'TrustPolicyDenied');
      assert.equal(report.verdict, 'misconfigured');
      assert.equal(report.token.sub, subOf('doctor-bad'));
      assert.deepEqual(report.steps.map((x) => x.status), ['pass', 'pass', 'pass', 'fail']);
      assert.deepEqual(findSecrets(text.out + json.out), []);
    });
    test('inconclusive when STS cannot be reached, exit 3', async () => {
      const file = await tokenFile('doctor-down', trust(subOf('doctor-down')));
      const [closed] = await freePorts(1);
      const r = await doctor('--token-file', file, '--role-arn', role('doctor-down'), `--issuer-ca-file=${path.join(kubeletRoot, 'issuer-ca.pem')}`, `--sts-endpoint=http://127.0.0.1:${closed}`);
      assert.equal(r.code, 3);
      assert.match(r.out, /Result: STSUnreachable \(inconclusive\)/);
    });
    test('bad usage: a clear message, exit 1', async () => {
      const r = await doctor('--role-arn', role('x'), '--token-file', '/nonexistent/token');
      assert.equal(r.code, 1);
      assert.match(r.err, /cannot read --token-file \/nonexistent\/token: ENOENT/);
      assert.equal((await doctor()).code, 1);
    });
  });

  test('no token or credential in logs, Events or metrics', async () => {
    const events = (await kube.core.listNamespacedEvent({ namespace: ns })).items.map((e) => e.message ?? '').join('\n');
    for (const a of agents) {
      assert.deepEqual(findSecrets(a.logs.text()), [], `${a.node} logs`);
      assert.deepEqual(findSecrets(await a.metrics()), [], `${a.node} metrics`);
    }
    assert.deepEqual(findSecrets(events), [], 'Events');
    assert.deepEqual(findSecrets(hook.logs.text()), [], 'webhook logs');
  });

  test('promtool check metrics: the agents\' and the webhook\'s /metrics, after every scenario, have no problems but the kept names', async () => {
    const { nodejsDefaults, referenceWebhook } = KEPT_NAME_PROBLEMS;
    for (const a of agents) assert.deepEqual((await lintMetrics(await a.metrics())).sort(), [...nodejsDefaults].sort(), `${a.node} /metrics`);
    const webhook = await (await fetch(`http://127.0.0.1:${hook.webhook.metricsPort}/metrics`)).text();
    assert.deepEqual((await lintMetrics(webhook)).sort(), [...nodejsDefaults, ...referenceWebhook].sort(), 'webhook /metrics');
  });
});
