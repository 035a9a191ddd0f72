// `npm run demo -- --real-node` (root): the same story on a real single-node cluster built from
// source (test/node/): the project's image built from its Dockerfile, the Helm chart installed,
// the application image asking STS who it is through the SDK's default credential chain, and
// kubectl's own output. `--once` exits after the story.
import { realNodeUnavailable, startRealCluster, IMAGES, type RealCluster } from '../node/cluster.ts';
import { eventually } from '../cluster/kube-helpers.ts';
import { ACCOUNT, helmKubeIrsa, setUpAccount } from '../node/workloads.ts';

const REGION = 'eu-west-1';
const NS = 'shop';

export async function realNodeDemo(opts: { once: boolean; bold: (s: string) => string }): Promise<void> {
  const { bold } = opts;
  const why = realNodeUnavailable();
  if (why) throw new Error(`--real-node: ${why}`);
  const started = Date.now();
  const step = (n: number, text: string): void => console.log(`\n${bold(`[${n}/5]`)} ${text}`);
  const sh = async (cluster: RealCluster, args: string[]): Promise<void> => {
    console.log(`\n${bold(`$ kubectl ${args.join(' ')}`)}`);
    console.log((await cluster.kubectl(args)).trimEnd().replace(/^/gm, '  '));
  };

  step(1, 'A real single-node cluster from source: control plane, kubelet, containerd, runc, CNI, in a private network namespace; the image built from the Dockerfile with BuildKit (the first run builds everything: many minutes)');
  const c = await startRealCluster();
  // Ctrl-C stops it: the cluster stops itself on SIGINT/SIGTERM
  const stop = (): Promise<void> => c.stop();
  const issuer = c.controlPlane.issuer;
  console.log(`      node ${c.node.name} Ready; service-account issuer ${issuer}; STS emulator at ${c.stsEndpoint} (inside the cluster's network)`);

  step(2, `STS emulator: account ${ACCOUNT}, an IAM OIDC provider for the issuer, roles orders, payments (trusts namespace shop-prod), search, legacy`);
  await setUpAccount(c, {
    orders: `system:serviceaccount:${NS}:orders`, search: `system:serviceaccount:${NS}:search`, legacy: `system:serviceaccount:${NS}:legacy`,
    payments: 'system:serviceaccount:shop-prod:payments',
  });

  // a workload from before kube-irsa was installed: its pod never went through the webhook
  await c.kubectl(['create', 'namespace', NS]);
  const run = async (w: { sa: string; annotations: Record<string, string> }): Promise<void> => {
    await c.kubectl(['create', 'serviceaccount', '-n', NS, w.sa]);
    await c.kubectl(['annotate', 'serviceaccount', '-n', NS, w.sa, `eks.amazonaws.com/role-arn=arn:aws:iam::${ACCOUNT}:role/${w.sa}`,
      ...Object.entries(w.annotations).map(([k, v]) => `${k}=${v}`)]);
    await c.kubectl(['run', w.sa, '-n', NS, `--image=${IMAGES.app}`, '--image-pull-policy=Never', `--overrides=${JSON.stringify({ spec: { serviceAccountName: w.sa } })}`,
      `--env=AWS_ENDPOINT_URL_STS=${c.stsEndpoint}`]);
  };
  await run({ sa: 'legacy', annotations: {} });

  step(3, 'helm install kube-irsa deploy/kube-irsa (webhook Deployment, agent DaemonSet, self-signed TLS)');
  await helmKubeIrsa(c, 'install', { tokenSource: 'token-request', region: REGION, extra: [
    '--set', 'agent.misconfiguredRecheckInterval=10s',
    // the agent may mint tokens only for the audiences it is allowed (the chart's admission policy)
    '--set', 'agent.allowedAudiences={sts.amazonaws.com,search.example.com}',
  ] });
  await sh(c, ['get', 'pods', '-n', 'kube-irsa', '-o', 'wide']);

  step(4, `Workloads in namespace ${NS}: the application image asks STS who it is with the SDK's default credential chain (legacy started before kube-irsa was installed)`);
  await run({ sa: 'orders', annotations: {} });
  await run({ sa: 'payments', annotations: {} });
  await run({ sa: 'search', annotations: { 'eks.amazonaws.com/audience': 'search.example.com' } });
  const expected = ['orders Healthy', 'payments TrustPolicyDenied', 'search IncorrectAudience', 'legacy PodNotMutated'];
  await eventually(async () => {
    const seen = (await c.kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.kind=Pod', '-o', 'jsonpath={range .items[*]}{.involvedObject.name} {.reason}{"\\n"}{end}'])).split('\n');
    return expected.every((e) => seen.includes(e)) ? true : undefined;
  }, 'the agent\'s four verdicts as Events', 180_000, 1_000);
  await c.kubectl(['wait', '--for=condition=Ready', 'pod', '--all', '-n', NS, '--timeout=120s']);

  step(5, 'What happened');
  await sh(c, ['get', 'pods', '-n', NS, '-o', 'wide']);
  await sh(c, ['get', 'pod', 'orders', '-n', NS, '-o', 'jsonpath={range .spec.containers[0].env[*]}{.name}={.value}{"\\n"}{end}']);
  await sh(c, ['exec', '-n', NS, 'orders', '--', 'node', '/app/app.ts', '--once']);
  await sh(c, ['exec', '-n', NS, 'legacy', '--', 'node', '/app/app.ts', '--once']);
  await sh(c, ['get', 'events', '-n', NS, '--field-selector', 'source=kube-irsa-agent', '-o', 'custom-columns=KIND:.involvedObject.kind,OBJECT:.involvedObject.name,TYPE:.type,REASON:.reason,MESSAGE:.message']);
  await sh(c, ['get', 'irsachecks', '-A']);
  console.log(`\nDemo ready in ${((Date.now() - started) / 1000).toFixed(0)} s.`);

  if (opts.once) {
    await stop();
    return;
  }
  console.log(`\n${bold('The cluster keeps running.')} Explore it with the kubectl built for the tests:`);
  console.log(`  export KUBECONFIG=${c.controlPlane.kubeconfigPath}`);
  console.log(`  ${c.binDir}/kubectl exec -n ${NS} orders -- node /app/app.ts --once`);
  console.log('Press Ctrl-C to stop (everything started here is stopped and removed).');
  await new Promise(() => undefined);
}
