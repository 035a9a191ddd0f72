// `node test/bench/metrics-cardinality.ts [--service-accounts=10000] [--nodes=100]`: the series a
// Prometheus stores for kube-irsa, measured on simulated agents: one agent metrics registry per node
// (the agent's own code, with the process metrics), each fed what its agent reports for the pods on
// its node, and two webhook replicas. Counts every series of every registry; node 0's count is
// checked against `promtool check metrics --extended`. Prints a table and writes
// test/bench/results/<time>-cardinality.json; docs/metrics.md (Cardinality) quotes it.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REASONS, type Reason } from '../../agent/core/reasons.ts';
import { createAgentMetrics } from '../../agent/metrics.ts';
import { createRegistry } from '../../shared/metrics.ts';
import { createWebhookMetrics } from '../../webhook/metrics.ts';
import { ensureBinaries } from '../cluster/binaries.ts';
import { countSeries, reportNode } from '../support/metric-series.ts';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const SERVICE_ACCOUNTS = arg('service-accounts', 10_000);
const NODES = arg('nodes', 100);
const HEALTH = 'kube_irsa_agent_serviceaccount_health';
const REASON_LIST = Object.keys(REASONS) as Reason[];

interface Scenario { name: string; replicas: number }
// one pod per ServiceAccount (100 pods a node, within the kubelet's default 110), and two replicas
// spread over two nodes (200 pods a node)
const SCENARIOS: readonly Scenario[] = [{ name: 'one pod per ServiceAccount', replicas: 1 }, { name: 'two replicas per ServiceAccount, on two nodes', replicas: 2 }];

async function promtoolTotal(text: string): Promise<number> {
  const promtool = path.join(await ensureBinaries(['promtool']), 'promtool');
  const child = spawn(promtool, ['check', 'metrics', '--extended', '--lint=none'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stdin.end(text);
  await new Promise((resolve, reject) => child.once('error', reject).once('close', resolve));
  const total = /^Total\s+(\d+)/m.exec(out)?.[1];
  if (total === undefined) throw new Error(`promtool check metrics --extended printed no total:\n${out}`);
  return Number(total);
}

async function measure(s: Scenario) {
  const nodes = Array.from({ length: NODES }, (_, i) => createAgentMetrics(createRegistry('agent'), `node-${i}`));
  // ServiceAccount j's replicas run on nodes j, j+1, … (a spread scheduler puts them on distinct nodes)
  const onNode = nodes.map(() => new Map<string, Reason>());
  for (let j = 0; j < SERVICE_ACCOUNTS; j++) {
    for (let r = 0; r < s.replicas; r++) onNode[(j + r) % NODES]!.set(`team-${j % 50}/sa-${j}`, REASON_LIST[j % REASON_LIST.length]!);
  }
  nodes.forEach((m, i) => reportNode(m, { serviceAccounts: onNode[i]!, pods: onNode[i]!.size, checks: Math.max(onNode[i]!.size, REASON_LIST.length * 2) }));
  const perNode = await Promise.all(nodes.map(async (m) => ({
    health: await countSeries(m.registry, (n) => n === HEALTH),
    kubeIrsa: await countSeries(m.registry, (n) => n.startsWith('kube_irsa_') && n !== HEALTH),
    process: await countSeries(m.registry, (n) => !n.startsWith('kube_irsa_')),
  })));
  const byPromtool = await promtoolTotal(await nodes[0]!.registry.metrics());
  const node0 = perNode[0]!.health + perNode[0]!.kubeIrsa + perNode[0]!.process;
  if (byPromtool !== node0) throw new Error(`node 0: counted ${node0} series, promtool counts ${byPromtool}`);
  const sum = (f: (n: (typeof perNode)[number]) => number) => perNode.reduce((a, n) => a + f(n), 0);
  return {
    scenario: s.name, serviceAccounts: SERVICE_ACCOUNTS, nodes: NODES, podsPerNode: SERVICE_ACCOUNTS * s.replicas / NODES,
    perServiceAccount: sum((n) => n.health) / SERVICE_ACCOUNTS,
    perNodeFixed: { kubeIrsa: Math.max(...perNode.map((n) => n.kubeIrsa)), process: Math.max(...perNode.map((n) => n.process)) },
    perNodeHealth: Math.max(...perNode.map((n) => n.health)),
    agentsTotal: sum((n) => n.health + n.kubeIrsa + n.process),
  };
}

async function main(): Promise<void> {
  const webhookReplicas = 2;
  const webhooks = Array.from({ length: webhookReplicas }, () => createWebhookMetrics(createRegistry('webhook')));
  for (const w of webhooks) {
    // every label value the webhook can export, once
    for (const code of [200, 400, 500]) w.observeHttp('POST', '/mutate', code, 0.001);
    for (const outcome of ['mutated', 'unchanged', 'no-identity', 'not-a-pod-create', 'rejected'] as const) w.observeAdmission(outcome, 0.001, 'web-identity', 1);
    w.setCacheSize(SERVICE_ACCOUNTS);
    w.setCertificateExpiry(new Date());
  }
  const webhookSeries = await countSeries(webhooks[0]!.registry);
  const results = [];
  for (const s of SCENARIOS) {
    const r = await measure(s);
    results.push({ ...r, webhookReplicas, webhookSeriesPerReplica: webhookSeries, total: r.agentsTotal + webhookReplicas * webhookSeries });
  }
  console.log('| scenario | pods a node | series per ServiceAccount | per node: kube-irsa fixed + process + health | agents total | webhook (2 replicas) | total |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.scenario} | ${r.podsPerNode} | ${r.perServiceAccount} | ${r.perNodeFixed.kubeIrsa} + ${r.perNodeFixed.process} + ${r.perNodeHealth} | ${r.agentsTotal} | ${r.webhookReplicas} × ${r.webhookSeriesPerReplica} | ${r.total} |`);
  }
  const dir = path.join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-cardinality.json`);
  await writeFile(file, JSON.stringify(results, null, 2));
  console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
