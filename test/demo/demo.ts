// `npm run demo`: kube-irsa end to end on this machine, no cloud account. A real control plane, the
// STS emulator with a demo account, the webhook registered for real, the agent on a node, and four
// workloads: one healthy, one whose trust policy names the wrong namespace, one with a wrong
// audience, one created while the webhook was bypassed. Prints what happened, then keeps running
// until Ctrl-C (`--once` exits after the story). `--real-node` (root) tells it on a real node with
// the chart installed (real-node-demo.ts).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CustomObjectsApi, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { IRSACHECK, type IRSACheck } from '../../agent/fleet.ts';
import { startAgent } from '../../agent/main.ts';
import { parseFlags } from '../../shared/cli/flags.ts';
import { ensureBinaries } from '../cluster/binaries.ts';
import { startControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { applyManifestFile } from '../cluster/manifests.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { realNodeDemo } from './real-node-demo.ts';
import { startWebhookHarness, TEST_NAMESPACE_LABEL, waitForMutation } from '../support/webhook-harness.ts';

const once = process.argv.includes('--once');
const ACCOUNT = '111122223333';
const NODE = 'demo-node';
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const started = Date.now();
const step = (n: number, text: string) => console.log(`\n${bold(`[${n}/6]`)} ${text}`);
const done = (t0: number) => `done in ${((Date.now() - t0) / 1000).toFixed(1)} s`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n');
}

function age(iso: string | Date | undefined): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
}

async function main(): Promise<void> {
  console.log(bold('kube-irsa demo') + ' — IAM Roles for Service Accounts on a local cluster, and why they break');
  if (process.argv.includes('--real-node')) return realNodeDemo({ once, bold });

  step(1, 'Real control plane: kube-apiserver v1.37 and etcd (the first run builds them from the Go module proxy: several minutes)');
  let t0 = Date.now();
  await ensureBinaries(['kube-apiserver', 'etcd']);
  const cp = await startControlPlane();
  const stops: Array<() => Promise<void>> = [() => cp.stop()];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));
  const kube = new KubeHelpers(cp.kubeConfig);
  await applyManifestFile(cp.kubeConfig, path.join(import.meta.dirname, '..', '..', 'deploy', 'kube-irsa', 'crds', 'irsachecks.kube-irsa.io.yaml'));
  console.log(`      ${done(t0)}; service-account issuer ${cp.issuer}`);

  step(2, `STS emulator: account ${ACCOUNT} with an IAM OIDC provider for the issuer (client ID sts.amazonaws.com)`);
  const providerUrl = cp.issuer.replace('https://', '');
  const trust = (sub: string) => ({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${providerUrl}:sub`]: sub, [`${providerUrl}:aud`]: 'sts.amazonaws.com' } } }],
  });
  const sts = await StsEmulator.start({
    extraCaPems: [cp.ca.certPem],
    config: {
      region: 'eu-west-1',
      accounts: [{
        id: ACCOUNT, oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }],
        roles: [
          { name: 'orders', trustPolicy: trust('system:serviceaccount:shop:orders') },
          { name: 'payments', trustPolicy: trust('system:serviceaccount:shop-prod:payments') },
          { name: 'search', trustPolicy: trust('system:serviceaccount:shop:search') },
          { name: 'legacy', trustPolicy: trust('system:serviceaccount:shop:legacy') },
        ],
      }],
    },
  });
  stops.push(() => sts.stop());
  console.log(`      listening on ${sts.endpoint}; roles orders, payments (trust names namespace shop-prod), search, legacy`);

  step(3, 'Webhook: kube-irsa webhook with the reference webhook\'s flags, registered with a MutatingWebhookConfiguration (url + caBundle)');
  t0 = Date.now();
  const hook = await startWebhookHarness(cp, ['--aws-default-region=eu-west-1']);
  stops.push(() => hook.stop());
  const ns = 'shop';
  await kube.core.createNamespace({ body: { metadata: { name: ns, labels: { [TEST_NAMESPACE_LABEL]: 'on' } } } });
  await kube.createServiceAccount(ns, 'default');
  // a pod from before the webhook was registered: it runs with a role but without injection
  await kube.createServiceAccount(ns, 'legacy', { 'eks.amazonaws.com/role-arn': role('legacy') });
  const legacyPod = await kube.createPod(ns, 'legacy-0', { serviceAccountName: 'legacy', nodeName: NODE });
  await hook.register({ name: 'kube-irsa-demo', failurePolicy: 'Ignore' });
  await kube.createServiceAccount(ns, 'orders', { 'eks.amazonaws.com/role-arn': role('orders') });
  await waitForMutation(kube, ns, 'orders');
  console.log(`      ${hook.url}, ${done(t0)}`);

  step(4, `Agent: kube-irsa agent for node ${NODE}, probing STS with deny-all session policies`);
  const caFile = path.join(cp.dir, 'issuer-ca.pem');
  await writeFile(caFile, cp.ca.certPem);
  const { values } = parseFlags(AGENT_FLAGS, [
    `--node-name=${NODE}`, '--kubeconfig', cp.kubeconfigPath, '--token-source=token-request', `--sts-endpoint=${sts.endpoint}`,
    `--issuer-ca-file=${caFile}`, '--region=eu-west-1', '--recheck-interval=30s', '--misconfigured-recheck-interval=10s', '--port=0', '--bind-address=127.0.0.1',
  ]);
  const agent = await startAgent(buildAgentConfig(values).config, pino({ level: 'silent' }));
  stops.push(() => agent.stop());
  console.log(`      metrics on http://127.0.0.1:${agent.port}/metrics`);

  step(5, `Workloads in namespace ${ns}, scheduled on ${NODE}`);
  const workloads: Array<{ sa: string; annotations: Record<string, string>; labels?: Record<string, string>; story: string }> = [
    { sa: 'orders', annotations: {}, story: 'role orders; its trust policy allows system:serviceaccount:shop:orders' },
    { sa: 'payments', annotations: { 'eks.amazonaws.com/role-arn': role('payments') }, story: 'role payments; its trust policy names namespace shop-prod instead of shop' },
    { sa: 'search', annotations: { 'eks.amazonaws.com/role-arn': role('search'), 'eks.amazonaws.com/audience': 'search.example.com' }, story: 'role search with audience search.example.com, which the OIDC provider does not list' },
    { sa: 'legacy', annotations: { 'eks.amazonaws.com/role-arn': role('legacy') }, story: 'role legacy, but the pod was created before the webhook was registered' },
  ];
  const pods: V1Pod[] = [];
  for (const w of workloads) {
    if (w.sa === 'legacy') {
      pods.push(legacyPod);
    } else {
      if (w.sa !== 'orders') await kube.createServiceAccount(ns, w.sa, w.annotations);
      pods.push(await kube.createPod(ns, `${w.sa}-0`, { serviceAccountName: w.sa, nodeName: NODE }, { labels: w.labels ?? {} }));
    }
    console.log(`      ${w.sa}-0: ${w.story}`);
  }
  const expected: Record<string, string> = { orders: 'Healthy', payments: 'TrustPolicyDenied', search: 'IncorrectAudience', legacy: 'PodNotMutated' };
  await eventually(() => (workloads.every((w) => agent.agent.podVerdict(ns, `${w.sa}-0`)?.reason === expected[w.sa]) ? true : undefined), 'the agent\'s verdicts', 60_000, 100);
  await agent.agent.settle();

  step(6, 'What happened');
  const orders = pods[0]!;
  console.log(`\n${bold(`Pod ${ns}/orders-0`)}, as the webhook mutated it:`);
  for (const e of orders.spec?.containers[0]?.env ?? []) console.log(`  env   ${e.name}=${e.value ?? ''}`);
  const vol = orders.spec?.volumes?.find((v) => v.name === 'aws-iam-token');
  const tok = vol?.projected?.sources?.[0]?.serviceAccountToken;
  console.log(`  volume aws-iam-token: projected ServiceAccount token (audience ${tok?.audience ?? '?'}, ${tok?.expirationSeconds ?? '?'} s, file ${tok?.path ?? '?'})`);
  console.log(`  mount  ${orders.spec?.containers[0]?.volumeMounts?.find((m) => m.name === 'aws-iam-token')?.mountPath ?? '?'} (read-only)`);

  for (const w of workloads) {
    const events = (await kube.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${w.sa}-0` })).items
      .filter((e: CoreV1Event) => e.source?.component === 'kube-irsa-agent');
    console.log(`\n${bold(`$ kubectl describe pod -n ${ns} ${w.sa}-0`)}   (Events)`);
    console.log(table([['Type', 'Reason', 'Age', 'From', 'Message'], ...events.map((e) => [e.type ?? '', e.reason ?? '', age(e.lastTimestamp), 'kube-irsa-agent', e.message ?? ''])]).replace(/^/gm, '  '));
  }

  const checks = ((await cp.kubeConfig.makeApiClient(CustomObjectsApi).listClusterCustomObject({ ...IRSACHECK })) as { items: IRSACheck[] }).items;
  console.log(`\n${bold('$ kubectl get irsachecks -A')}`);
  console.log(table([['NAMESPACE', 'NAME', 'SERVICEACCOUNT', 'ROLE', 'STATUS', 'REASON', 'AGE'],
    ...checks.map((c) => [c.metadata.namespace, c.metadata.name, c.spec.serviceAccountName, c.status?.roleArn ?? '', c.status?.health ?? '', c.status?.reason ?? '', age(c.status?.lastProbeTime)])]).replace(/^/gm, '  '));

  const metrics = await (await fetch(`http://127.0.0.1:${agent.port}/metrics`)).text();
  console.log(`\n${bold('Agent metrics')} (excerpt of /metrics):`);
  for (const line of metrics.split('\n').filter((l) => /^kube_irsa_agent_(serviceaccount_health|pods_not_mutated|probes_total\{result="(healthy|misconfigured)")/.test(l) && !l.endsWith(' 0'))) console.log(`  ${line}`);
  const calls = sts.requests.length;
  console.log(`\nSTS emulator: ${calls} AssumeRoleWithWebIdentity calls, every one with a deny-all session policy (the credentials are powerless and dropped).`);
  console.log(`Demo ready in ${((Date.now() - started) / 1000).toFixed(0)} s.`);

  if (once) {
    await stopAll();
    return;
  }
  console.log(`\n${bold('The cluster keeps running.')} Explore it with any kubectl 1.36+:`);
  console.log(`  export KUBECONFIG=${cp.kubeconfigPath}`);
  console.log(`  kubectl get irsachecks -A;  kubectl describe sa -n ${ns} payments`);
  console.log(`  bin/kube-irsa doctor ${ns}/payments --kubeconfig $KUBECONFIG --sts-endpoint ${sts.endpoint} --issuer-ca-file ${caFile}`);
  console.log('Press Ctrl-C to stop (everything started here is stopped and removed).');
  await new Promise(() => undefined);
}

main().catch((err: unknown) => {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
