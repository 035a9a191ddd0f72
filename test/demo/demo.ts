// `npm run demo`: kube-irsa end to end on this machine, no cloud account. A real control plane, the
// STS emulator with a demo account, the webhook registered for real, the agent on a node (reading
// IAM to pinpoint causes), and four workloads: one healthy, one whose trust policy names the wrong
// namespace, one with a wrong audience, one created while the webhook was bypassed; then a second
// agent whose credentials may not read IAM, for the same wrong trust policy. Prints what happened, then keeps running
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
import { newAccessKeyId } from '../sts-emulator/access-keys.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { realNodeDemo } from './real-node-demo.ts';
import { startWebhookHarness, TEST_NAMESPACE_LABEL, waitForMutation } from '../support/webhook-harness.ts';

const once = process.argv.includes('--once');
const ACCOUNT = '111122223333';
const NODE = 'demo-node';
const NODE_NO_IAM = 'demo-node-2';
// the agents' IAM users; keys made at run time
const IAM_READER = { name: 'kube-irsa-agent', accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: 'a'.repeat(40), allowIamReads: true };
const NO_IAM = { name: 'kube-irsa-agent-no-iam', accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: 'b'.repeat(40), allowIamReads: false };
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const started = Date.now();
const step = (n: number, text: string) => console.log(`\n${bold(`[${n}/6]`)} ${text}`);
const done = (t0: number) => `done in ${((Date.now() - t0) / 1000).toFixed(1)} s`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  // a last cell of several lines (a message with its hint) continues under its column
  const lastColumn = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c.replace(/\n/g, `\n${' '.repeat(lastColumn)}`) : c.padEnd(widths[i]! + 2))).join('').trimEnd()).join('\n');
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

  step(2, `STS emulator: account ${ACCOUNT} with an IAM OIDC provider for the issuer (client ID sts.amazonaws.com), its IAM side for the agents`);
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
        id: ACCOUNT, oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }], users: [IAM_READER, NO_IAM],
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
  console.log(`      listening on ${sts.endpoint}; roles orders, payments (trust names namespace shop-prod), search, legacy;`);
  console.log(`      IAM users ${IAM_READER.name} (may read IAM: iam:GetRole, the OIDC provider reads) and ${NO_IAM.name} (may not)`);

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

  step(4, `Agents: kube-irsa agent for node ${NODE}, probing STS with deny-all session policies and reading IAM to pinpoint causes`);
  const caFile = path.join(cp.dir, 'issuer-ca.pem');
  await writeFile(caFile, cp.ca.certPem);
  const agentConfig = (node: string, extra: string[] = []) => buildAgentConfig(parseFlags(AGENT_FLAGS, [
    `--node-name=${node}`, '--kubeconfig', cp.kubeconfigPath, '--token-source=token-request', `--sts-endpoint=${sts.endpoint}`,
    `--issuer-ca-file=${caFile}`, '--region=eu-west-1', '--recheck-interval=30s', '--misconfigured-recheck-interval=10s', '--port=0', '--bind-address=127.0.0.1',
    '--iam-reads', `--iam-endpoint=${sts.endpoint}`, ...extra,
  ]).values).config;
  // the agent's own AWS credentials come from the SDK's default chain (in a cluster: its own IRSA role)
  process.env.AWS_ACCESS_KEY_ID = IAM_READER.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = IAM_READER.secretAccessKey;
  const agent = await startAgent(agentConfig(NODE), pino({ level: 'silent' }));
  stops.push(() => agent.stop());
  console.log(`      metrics on http://127.0.0.1:${agent.port}/metrics; IAM read as ${IAM_READER.name}`);
  // the same agent with credentials that may not read IAM, checking on its own (no shared IRSACheck)
  const agentNoIam = await startAgent(agentConfig(NODE_NO_IAM, ['--fleet=false']), pino({ level: 'silent' }), undefined,
    { awsCredentials: () => Promise.resolve({ accessKeyId: NO_IAM.accessKeyId, secretAccessKey: NO_IAM.secretAccessKey }) });
  stops.push(() => agentNoIam.stop());
  console.log(`      and for node ${NODE_NO_IAM}: the same agent as ${NO_IAM.name}, which may not read IAM`);

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
  pods.push(await kube.createPod(ns, 'payments-1', { serviceAccountName: 'payments', nodeName: NODE_NO_IAM }));
  console.log(`      payments-1: role payments again, on ${NODE_NO_IAM}, whose agent may not read IAM`);
  const expected: Record<string, string> = { orders: 'Healthy', payments: 'TrustPolicyDenied', search: 'IncorrectAudience', legacy: 'PodNotMutated' };
  await eventually(() => (workloads.every((w) => agent.agent.podVerdict(ns, `${w.sa}-0`)?.reason === expected[w.sa])
    && agentNoIam.agent.podVerdict(ns, 'payments-1')?.reason === 'TrustPolicyDenied' ? true : undefined), 'the agents\' verdicts', 60_000, 100);
  await agent.agent.settle();
  await agentNoIam.agent.settle();

  step(6, 'What happened');
  const orders = pods[0]!;
  console.log(`\n${bold(`Pod ${ns}/orders-0`)}, as the webhook mutated it:`);
  for (const e of orders.spec?.containers[0]?.env ?? []) console.log(`  env   ${e.name}=${e.value ?? ''}`);
  const vol = orders.spec?.volumes?.find((v) => v.name === 'aws-iam-token');
  const tok = vol?.projected?.sources?.[0]?.serviceAccountToken;
  console.log(`  volume aws-iam-token: projected ServiceAccount token (audience ${tok?.audience ?? '?'}, ${tok?.expirationSeconds ?? '?'} s, file ${tok?.path ?? '?'})`);
  console.log(`  mount  ${orders.spec?.containers[0]?.volumeMounts?.find((m) => m.name === 'aws-iam-token')?.mountPath ?? '?'} (read-only)`);

  for (const pod of [...workloads.map((w) => `${w.sa}-0`), 'payments-1']) {
    const events = (await kube.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${pod}` })).items
      .filter((e: CoreV1Event) => e.source?.component === 'kube-irsa-agent');
    if (pod === 'payments-1') console.log(`\nThe same trust policy seen by the agent on ${NODE_NO_IAM}, which may not read IAM: today's message and one hint.`);
    console.log(`\n${bold(`$ kubectl describe pod -n ${ns} ${pod}`)}   (Events)`);
    console.log(table([['Type', 'Reason', 'Age', 'From', 'Message'], ...events.map((e) => [e.type ?? '', e.reason ?? '', age(e.lastTimestamp), 'kube-irsa-agent', e.message ?? ''])]).replace(/^/gm, '  '));
  }

  const checks = ((await cp.kubeConfig.makeApiClient(CustomObjectsApi).listClusterCustomObject({ ...IRSACHECK })) as { items: IRSACheck[] }).items;
  console.log(`\n${bold('$ kubectl get irsachecks -A')}`);
  console.log(table([['NAMESPACE', 'NAME', 'SERVICEACCOUNT', 'ROLE', 'STATUS', 'REASON', 'CAUSE', 'AGE'],
    ...checks.map((c) => [c.metadata.namespace, c.metadata.name, c.spec.serviceAccountName, c.status?.roleArn ?? '', c.status?.health ?? '', c.status?.reason ?? '', c.status?.cause ?? '', age(c.status?.lastProbeTime)])]).replace(/^/gm, '  '));

  const metrics = await (await fetch(`http://127.0.0.1:${agent.port}/metrics`)).text();
  console.log(`\n${bold('Agent metrics')} (excerpt of /metrics):`);
  for (const line of metrics.split('\n').filter((l) => /^kube_irsa_agent_(serviceaccount_health|pods_not_mutated|probes_total\{result="(healthy|misconfigured)")/.test(l) && !l.endsWith(' 0'))) console.log(`  ${line}`);
  const calls = sts.count({ action: 'AssumeRoleWithWebIdentity' });
  const reads = sts.requests.filter((r) => ['GetRole', 'ListOpenIDConnectProviders', 'GetOpenIDConnectProvider'].includes(r.action));
  console.log(`\nSTS emulator: ${calls} AssumeRoleWithWebIdentity calls, every one with a deny-all session policy (the credentials are powerless and dropped);`);
  console.log(`  ${reads.length} IAM reads to explain the refusals (${reads.filter((r) => r.result === 'AccessDenied').length} refused for ${NO_IAM.name}), each cached per role for --iam-cache-ttl.`);
  console.log(`Demo ready in ${((Date.now() - started) / 1000).toFixed(0)} s.`);

  if (once) {
    await stopAll();
    return;
  }
  console.log(`\n${bold('The cluster keeps running.')} Explore it with any kubectl 1.36+:`);
  console.log(`  export KUBECONFIG=${cp.kubeconfigPath}`);
  console.log(`  kubectl get irsachecks -A;  kubectl describe sa -n ${ns} payments`);
  console.log(`  bin/kube-irsa doctor ${ns}/payments --kubeconfig $KUBECONFIG --sts-endpoint ${sts.endpoint} --issuer-ca-file ${caFile} --output json`);
  console.log('Press Ctrl-C to stop (everything started here is stopped and removed).');
  await new Promise(() => undefined);
}

main().catch((err: unknown) => {
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
