// An agent holds a fixed number of watches on the API server, however many namespaces its pods come
// from: its node's pods, all ServiceAccounts, the mapping ConfigMap. Counted from the API server's
// own metrics, not from the agent's accounting.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../agent/main.ts';
import { parseFlags } from '../../shared/cli/flags.ts';
import { apiServerMetrics, sumOf } from '../cluster/api-server-metrics.ts';
import { startControlPlane, freePorts, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers, PAUSE_IMAGE } from '../cluster/kube-helpers.ts';

let cp: ControlPlane;
let agent: RunningAgent | undefined;

before(async () => {
  cp = await startControlPlane();
});
after(async () => {
  await agent?.stop();
  await cp?.stop();
});

test('pods from 6 namespaces on the node: the agent holds 3 watches (pods, ServiceAccounts, mapping)', async () => {
  const kube = new KubeHelpers(cp.kubeConfig);
  const namespaces: string[] = [];
  for (let i = 0; i < 6; i++) {
    const ns = await kube.createNamespace(`spread-${i}`);
    namespaces.push(ns);
    await kube.createServiceAccount(ns, 'app', { 'eks.amazonaws.com/role-arn': `arn:aws:iam::111122223333:role/app-${i}` });
    await kube.createPod(ns, 'app-0', { serviceAccountName: 'app', nodeName: 'node-w', containers: [{ name: 'app', image: PAUSE_IMAGE }] });
  }
  const watches = async () => sumOf(await apiServerMetrics(cp), 'apiserver_longrunning_requests', /verb="WATCH"/);
  const before = await watches();
  const [closed] = await freePorts(1);
  const { values } = parseFlags(AGENT_FLAGS, [
    '--node-name=node-w', '--kubeconfig', cp.kubeconfigPath, '--token-source=token-request', `--sts-endpoint=http://127.0.0.1:${closed}`,
    '--region=us-west-2', '--port=0', '--bind-address=127.0.0.1', '--watch-config-map', '--namespace=kube-system',
  ]);
  agent = await startAgent(buildAgentConfig(values).config, pino({ level: 'silent' }));
  // every pod checked (none was mutated: PodNotMutated), so every namespace's ServiceAccount was needed
  await eventually(() => (namespaces.every((ns) => agent!.agent.podVerdict(ns, 'app-0')?.reason === 'PodNotMutated') ? true : undefined), 'a verdict for every pod');
  const held = await eventually(async () => {
    const n = (await watches()) - before;
    return n === 3 ? n : undefined;
  }, 'the agent\'s watches to show in the API server\'s metrics', 10_000, 200);
  assert.equal(held, 3);
});
