// IRSA → EKS Pod Identity, end to end against the real API server: a ServiceAccount that has both a
// role annotation and a container-credentials association. The webhook injects container
// credentials; the agent, reading the same association file through the same resolver, does not
// call the pod PodNotMutated; doctor says the same. A pod the webhook never saw is the control: the
// agent does report it, so the silence about the first pod is a decision, not a missed check.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseFlags } from '../../shared/cli/flags.ts';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { runDoctor } from '../../agent/doctor-command.ts';
import { startAgent, type RunningAgent } from '../../agent/main.ts';
import { startControlPlane, freePorts, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers, PAUSE_IMAGE } from '../cluster/kube-helpers.ts';
import { captureIo } from '../support/io-capture.ts';
import { captureLogs } from '../support/log-capture.ts';
import { startWebhookHarness, TEST_NAMESPACE_LABEL, waitForMutation, type WebhookHarness } from '../support/webhook-harness.ts';

const ROLE = 'arn:aws:iam::111122223333:role/migrating';

describe('IRSA + Pod Identity migration', () => {
  // the cluster and the webhook, shared by the test; the agent is started inside it
  let cp: ControlPlane, kube: KubeHelpers, hook: WebhookHarness, agent: RunningAgent | undefined;
  // the webhook's namespace, one it does not serve, and the association file both read
  let ns: string, plainNs: string, dir: string, associations: string, stsEndpoint: string;

  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
    dir = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-migration-'));
    ns = await kube.createNamespace('migration', { [TEST_NAMESPACE_LABEL]: 'on' });
    plainNs = await kube.createNamespace('unhooked');
    associations = path.join(dir, 'associations.json');
    await writeFile(associations, JSON.stringify({ identities: [{ namespace: ns, serviceAccount: 'app' }] }));
    hook = await startWebhookHarness(cp, [`--watch-container-credentials-config=${associations}`]);
    await hook.register();
    await kube.createServiceAccount(ns, 'probe', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/probe' });
    await waitForMutation(kube, ns, 'probe');
    // nothing here reaches STS: container credentials are not probed, and the control pod is not mutated
    const [closed] = await freePorts(1);
    stsEndpoint = `http://127.0.0.1:${closed}`;
  });
  after(async () => {
    await agent?.stop();
    await hook?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the webhook injects container credentials, the agent reports no PodNotMutated, doctor agrees', async () => {
    for (const namespace of [ns, plainNs]) await kube.createServiceAccount(namespace, 'app', { 'eks.amazonaws.com/role-arn': ROLE });
    const pod = await kube.createPod(ns, 'app-0', { serviceAccountName: 'app', nodeName: 'node-m', containers: [{ name: 'app', image: PAUSE_IMAGE }] });
    const env = pod.spec?.containers[0]?.env ?? [];
    assert.ok(env.some((e) => e.name === 'AWS_CONTAINER_CREDENTIALS_FULL_URI'), 'the webhook injected container credentials');
    assert.ok(!env.some((e) => e.name === 'AWS_ROLE_ARN' || e.name === 'AWS_WEB_IDENTITY_TOKEN_FILE'), 'and no web identity');
    assert.ok(pod.spec?.volumes?.some((v) => v.name === 'eks-pod-identity-token'));
    assert.equal(JSON.parse(pod.metadata?.annotations?.['kube-irsa.io/injected'] ?? '{}').mode, 'container-credentials');
    const control = await kube.createPod(plainNs, 'app-0', { serviceAccountName: 'app', nodeName: 'node-m', containers: [{ name: 'app', image: PAUSE_IMAGE }] });
    assert.equal(control.spec?.volumes?.some((v) => v.name === 'aws-iam-token'), false, 'the control pod was not mutated');

    const logs = captureLogs('agent');
    const { values } = parseFlags(AGENT_FLAGS, [
      '--node-name=node-m', '--kubeconfig', cp.kubeconfigPath, '--token-source=kubelet', `--kubelet-root-dir=${dir}`,
      `--sts-endpoint=${stsEndpoint}`, '--region=us-west-2', '--port=0', '--bind-address=127.0.0.1',
      `--watch-container-credentials-config=${associations}`,
    ]);
    const running = await startAgent(buildAgentConfig(values).config, logs.logger, () => 0.5);
    agent = running;
    await eventually(() => running.agent.podVerdict(plainNs, 'app-0'), 'the control pod to be checked');
    await running.agent.settle();
    assert.equal(running.agent.podVerdict(plainNs, 'app-0')?.reason, 'PodNotMutated', 'the control pod is reported');
    assert.equal(running.agent.podVerdict(ns, 'app-0'), undefined, 'the migrating pod has nothing wrong');
    const events = await kube.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'involvedObject.kind=Pod,involvedObject.name=app-0' });
    assert.deepEqual(events.items.filter((e) => e.reason === 'PodNotMutated' || e.reason === 'CredentialsShadowed'), [], 'the injected container credentials are the identity, not a shadow of it');

    const io = captureIo();
    const code = await runDoctor([`${ns}/app`, '--kubeconfig', cp.kubeconfigPath, `--watch-container-credentials-config=${associations}`, `--sts-endpoint=${stsEndpoint}`], io);
    assert.equal(code, 0, io.out() + io.err());
    assert.match(io.out(), /container credentials/);
    const json = captureIo();
    assert.equal(await runDoctor([`${ns}/app`, '--kubeconfig', cp.kubeconfigPath, `--watch-container-credentials-config=${associations}`, '--output=json'], json), 0);
    assert.equal((JSON.parse(json.out()) as { identity: { mode: string } }).identity.mode, 'container-credentials');
  });
});
