// `npm run bench` (quick, a few minutes) / `npm run bench:full`: kube-irsa measured side by side with
// the reference webhook (aws/amazon-eks-pod-identity-webhook, built from the Go module proxy) on
// this machine, in alternating runs (A B A B …) with ratios taken pair by pair, plus the agent at
// fleet scale. Prints a markdown table and writes test/bench/results/<time>.json.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { ensureBinaries } from '../cluster/binaries.ts';
import { freePorts, startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { httpsRequest } from '../cluster/https.ts';
import { issueCertificate } from '../cluster/pki.ts';
import { rssMiB } from '../cluster/process.ts';
import { buildApp } from '../support/built-app.ts';
import { benchAgents, type AgentBenchResult } from './agent-bench.ts';
import { podOfSize, review } from './pods.ts';

const run = promisify(execFile);
const FULL = process.argv.includes('--full');
/** --only=webhook, webhook-memory, agent or agent-memory runs a part (for iterating on a fix); all by default. */
const ONLY = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const ROOT = path.join(import.meta.dirname, '..', '..');
/** kube-irsa as the image ships it (bundled, scripts/bundle.ts), set by main(). */
let CLI = '';
const ROLE = 'arn:aws:iam::111122223333:role/bench';
const MODE = FULL
  ? { seconds: 10, pairs: 3, rates: [500, 1000, 2000], serviceAccounts: [10_000, 100_000] }
  : { seconds: 3, pairs: 2, rates: [500, 1000, 2000], serviceAccounts: [10_000] };
/** Memory targets relative to the reference, per number of ServiceAccounts. */
const MEMORY_TARGET: Readonly<Record<number, string>> = { 10_000: '≤ 2.0×', 100_000: '≤ 1.0×' };
const allServiceAccounts = (): number => MODE.serviceAccounts[MODE.serviceAccounts.length - 1] ?? 0;

type System = 'kube-irsa' | 'reference' | 'kube-irsa-2w';
const SYSTEMS: readonly System[] = ['kube-irsa', 'reference', 'kube-irsa-2w'];

interface Running {
  readonly system: System;
  readonly child: ChildProcess;
  readonly port: number;
  readonly metricsPort: number;
  stop(): Promise<void>;
}

const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

/** A process and its children (the workers of --workers). */
async function treeRssMiB(pid: number): Promise<number> {
  const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
  let total = await rssMiB(pid);
  for (const c of children) total += await treeRssMiB(c);
  return total;
}

async function startSystem(system: System, cp: ControlPlane, binDir: string, cert: { certFile: string; keyFile: string }): Promise<Running> {
  const [port, metricsPort] = await freePorts(2);
  const common = ['--kubeconfig', cp.kubeconfigPath, `--port=${port}`, `--metrics-port=${metricsPort}`, '--tls-cert', cert.certFile, '--tls-key', cert.keyFile,
    '--aws-default-region=us-west-2', '--annotation-prefix=eks.amazonaws.com', '--token-audience=sts.amazonaws.com', '--in-cluster=false'];
  const child = system !== 'reference'
    // kube-irsa-2w: the Helm chart's default (deploy/kube-irsa/values.yaml), two threads, the second elastic
    ? spawn(CLI, ['webhook', ...common, '--bind-address=127.0.0.1', ...(system === 'kube-irsa-2w' ? ['--workers=2', '--worker-idle-timeout=5m'] : ['--workers=1'])], { stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(path.join(binDir, 'reference-webhook'), [...common, '--logtostderr', '--v=0'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  return { system, child, port: port!, metricsPort: metricsPort!, stop };
}

/** Ready = a pod of the last annotated ServiceAccount gets mutated (the reference has no readiness endpoint). */
async function waitMutating(r: Running, ca: string, namespace: string, serviceAccount: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  const pod = { ...podOfSize('small', namespace), spec: { serviceAccountName: serviceAccount, containers: [{ name: 'app', image: 'app:1' }] } };
  await eventually(async () => {
    if (r.child.exitCode !== null) throw new Error(`${r.system} exited with ${r.child.exitCode}`);
    const res = await httpsRequest(`https://127.0.0.1:${r.port}/mutate`, { ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: review(pod, namespace), timeoutMs: 2_000 }).catch(() => undefined);
    if (!res || res.status !== 200) return undefined;
    const body = JSON.parse(res.body) as { response?: { patch?: string } };
    return body.response?.patch ? true : undefined;
  }, `${r.system} to mutate pods of ${namespace}/${serviceAccount}`, timeoutMs, 100);
  return Date.now() - started;
}

/** Closed-loop load: each of `connections` keep-alive connections sends its next request on an answer. */
async function load(r: Running, body: string, opts: { seconds: number; connections: number }) {
  const result = await autocannon({
    url: `https://127.0.0.1:${r.port}/mutate`, method: 'POST', headers: { 'content-type': 'application/json' }, body,
    connections: opts.connections, duration: opts.seconds,
  });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx, total: result.requests.total };
}

/**
 * Latency at a fixed rate: vegeta sends on an even schedule whatever the answers do (an open
 * model), so a slow answer cannot hold the next requests back. autocannon's rate option instead
 * lets each connection send its share back to back at the start of every second, which measures how
 * fast a burst of `rate` requests drains rather than latency at that rate. HTTP/1.1 keep-alive,
 * at most 64 connections, as in the throughput runs.
 */
async function constantRate(r: Running, bodyFile: string, opts: { seconds: number; rate: number; vegeta: string; caFile: string }) {
  const dir = path.dirname(bodyFile);
  const targets = path.join(dir, `targets-${r.port}.txt`);
  const results = path.join(dir, `results-${r.port}-${opts.rate}.bin`);
  await writeFile(targets, `POST https://127.0.0.1:${r.port}/mutate\nContent-Type: application/json\n@${bodyFile}\n`);
  await run(opts.vegeta, ['attack', '-format=http', `-targets=${targets}`, `-rate=${opts.rate}/1s`, `-duration=${opts.seconds}s`, `-root-certs=${opts.caFile}`,
    '-http2=false', '-keepalive=true', '-max-connections=64', '-timeout=10s', `-output=${results}`]);
  const report = JSON.parse((await run(opts.vegeta, ['report', '-type=json', results])).stdout) as { latencies: Record<string, number>; success: number; requests: number };
  const ms = (ns: number | undefined) => (ns ?? NaN) / 1e6;
  return { p50: ms(report.latencies['50th']), p99: ms(report.latencies['99th']), errors: Math.round(report.requests * (1 - report.success)), total: report.requests };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/** Creates ServiceAccounts sa-<from> … sa-<count-1> (every tenth annotated). */
async function createServiceAccounts(kube: KubeHelpers, namespace: string, count: number, from = 0): Promise<void> {
  let next = from;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const annotations: Record<string, string> = i % 10 === 0 ? { 'eks.amazonaws.com/role-arn': `${ROLE}-${i}` } : {};
      await kube.createServiceAccount(namespace, `sa-${i}`, annotations);
      if (i % 5000 === 0) log(`ServiceAccounts: ${i}/${count}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

async function main(): Promise<void> {
  const started = Date.now();
  log(`${FULL ? 'full' : 'quick'} mode on ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`);
  const binDir = await ensureBinaries(['kube-apiserver', 'etcd', 'reference-webhook', 'vegeta']);
  const cp = await startControlPlane({ extraApiServerArgs: ['--max-requests-inflight=2000', '--max-mutating-requests-inflight=1000'] });
  const results: Record<string, unknown> = { mode: FULL ? 'full' : 'quick', date: new Date().toISOString(), cpus: os.cpus().length, node: process.versions.node };
  const rows: string[][] = [];
  try {
    CLI = await buildApp(path.join(cp.dir, 'app'));
    log(`kube-irsa built as the image ships it: ${CLI}`);
    if (ONLY === undefined || ONLY.startsWith('webhook')) await benchWebhooks(cp, binDir, results, rows);
    if (ONLY === undefined || ONLY.startsWith('agent')) {
      // the agent watches every ServiceAccount: it is measured with the cluster the webhook bench fills
      if (ONLY !== undefined) {
        const kube = new KubeHelpers(cp.kubeConfig);
        await createServiceAccounts(kube, await kube.createNamespace('big'), allServiceAccounts());
      }
      // a failed agent part is reported, and the webhook's numbers measured before it are kept
      const agent: AgentBenchResult | undefined = await benchAgents(cp, { full: FULL, log, cli: CLI, memoryOnly: ONLY === 'agent-memory' }).catch((err: unknown) => {
        log(`agent benchmark failed: ${(err as Error).message}`);
        rows.push(['agent benchmark', `failed: ${(err as Error).message.replace(/\|/g, '/')}`, '', '', '', '']);
        results.agentError = (err as Error).message;
        process.exitCode = 1;
        return undefined;
      });
      if (agent) {
        results.agent = agent;
        if (agent.verdictLatency) rows.push(['agent: pod CREATE → verdict Event, p50 / p99 (s)', `${fmt(agent.verdictLatency.p50, 2)} / ${fmt(agent.verdictLatency.p99, 2)}`, '', '', '', 'p99 ≤ 2 s']);
        if (agent.fleet) {
          rows.push([`agent: STS calls per interval, ${agent.fleet.agents} agents × ${agent.fleet.serviceAccounts} ServiceAccounts`, `${agent.fleet.callsPerInterval.toFixed(0)} (${fmt(agent.fleet.callsPerInterval / agent.fleet.serviceAccounts, 2)}× M)`, '', '', '', '≤ 1.05 × M']);
          rows.push(['agent: API server watches per agent', fmt(agent.fleet.watchesPerAgent, 1), '', '', '', 'fixed (pods, ServiceAccounts, mapping)']);
          rows.push(['agent: API requests per agent per minute', fmt(agent.fleet.apiRequestsPerAgentPerMinute, 1), '', '', '', '']);
        }
        rows.push([`agent: resident memory, ${agent.memory.pods} pods / ${agent.memory.serviceAccounts} ServiceAccounts, ${agent.memory.clusterServiceAccounts} in the cluster (MiB)`, fmt(agent.memory.rssMiB, 0), '', '', '', '≤ 90 MiB']);
      }
    }
  } finally {
    await cp.stop();
  }
  results.durationSeconds = Math.round((Date.now() - started) / 1000);
  const table = ['| measure | kube-irsa --workers=1 | kube-irsa, chart default (--workers=2, elastic) | reference | ratio (1 / 2 workers) | target |', '|---|---|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  results.table = table;
  const dir = path.join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${FULL ? 'full' : 'quick'}.json`);
  await writeFile(file, JSON.stringify(results, null, 2));
  console.log(`\n${table}\n\n${FULL ? 'Full' : 'Quick'} run on ${os.cpus().length} cores in ${results.durationSeconds as number} s; results in ${path.relative(ROOT, file)}`);
}

/** Throughput, latency and memory of kube-irsa (1 and 2 workers) and the reference, alternating. */
async function benchWebhooks(cp: ControlPlane, binDir: string, results: Record<string, unknown>, rows: string[][]): Promise<void> {
  const kube = new KubeHelpers(cp.kubeConfig);
  const ns = await kube.createNamespace('bench');
  await kube.createServiceAccount(ns, 'app', { 'eks.amazonaws.com/role-arn': ROLE });
  const cert = await issueCertificate(cp.ca, cp.dir, { name: 'bench', commonName: '127.0.0.1', ips: ['127.0.0.1'] });

  // each round runs the three in a rotated order; ratios are taken within a round
  const orderOf = (round: number): System[] => SYSTEMS.map((_, i) => SYSTEMS[(i + round) % SYSTEMS.length]!);
  if (ONLY !== 'webhook-memory') {
    // throughput and latency, alternating A B A B
    const systems: Record<System, Running> = {
      'kube-irsa': await startSystem('kube-irsa', cp, binDir, cert),
      reference: await startSystem('reference', cp, binDir, cert),
      'kube-irsa-2w': await startSystem('kube-irsa-2w', cp, binDir, cert),
    };
    for (const r of Object.values(systems)) await waitMutating(r, cp.ca.certPem, ns, 'app', 60_000);
    const throughput: Record<string, { ratios: number[]; ratios2w: number[]; rps: Record<System, number[]> }> = {};
    for (const size of ['small', 'typical', 'large'] as const) {
      const body = review(podOfSize(size, ns), ns);
      throughput[size] = { ratios: [], ratios2w: [], rps: { 'kube-irsa': [], reference: [], 'kube-irsa-2w': [] } };
      for (let round = 0; round < MODE.pairs; round++) {
        const got: Partial<Record<System, number>> = {};
        for (const s of orderOf(round)) {
          const res = await load(systems[s], body, { seconds: MODE.seconds, connections: 64 });
          if (res.errors > 0) log(`${s} ${size}: ${res.errors} errors`);
          got[s] = res.rps;
          throughput[size].rps[s].push(res.rps);
        }
        throughput[size].ratios.push((got['kube-irsa'] ?? 0) / (got.reference ?? 1));
        throughput[size].ratios2w.push((got['kube-irsa-2w'] ?? 0) / (got.reference ?? 1));
        log(`throughput ${size} round ${round + 1}: kube-irsa ${fmt(got['kube-irsa'] ?? 0, 0)}, with 2 workers ${fmt(got['kube-irsa-2w'] ?? 0, 0)}, reference ${fmt(got.reference ?? 0, 0)} req/s`);
      }
      const t = throughput[size];
      rows.push([`throughput, ${size} pod, 64 connections (req/s)`, fmt(median(t.rps['kube-irsa']), 0), fmt(median(t.rps['kube-irsa-2w']), 0), fmt(median(t.rps.reference), 0), `${fmt(median(t.ratios), 2)}× / ${fmt(median(t.ratios2w), 2)}×`, size === 'typical' ? '≥ 1.5×' : '']);
    }
    results.throughput = throughput;

    const latency: Record<string, { p50: Record<System, number[]>; p99: Record<System, number[]>; ratiosP99: number[]; ratiosP99w: number[] }> = {};
    const typicalFile = path.join(cp.dir, 'typical-review.json');
    await writeFile(typicalFile, review(podOfSize('typical', ns), ns));
    const vegeta = path.join(binDir, 'vegeta');
    for (const rate of MODE.rates) {
      latency[rate] = { p50: { 'kube-irsa': [], reference: [], 'kube-irsa-2w': [] }, p99: { 'kube-irsa': [], reference: [], 'kube-irsa-2w': [] }, ratiosP99: [], ratiosP99w: [] };
      for (let round = 0; round < MODE.pairs; round++) {
        const p99: Partial<Record<System, number>> = {};
        for (const s of orderOf(round)) {
          const res = await constantRate(systems[s], typicalFile, { seconds: MODE.seconds, rate, vegeta, caFile: cp.ca.certFile });
          if (res.errors > 0) log(`${s} at ${rate} req/s: ${res.errors} of ${res.total} failed`);
          latency[rate].p50[s].push(res.p50);
          latency[rate].p99[s].push(res.p99);
          p99[s] = res.p99;
        }
        latency[rate].ratiosP99.push((p99['kube-irsa'] ?? 0) / Math.max(p99.reference ?? 1, 0.001));
        latency[rate].ratiosP99w.push((p99['kube-irsa-2w'] ?? 0) / Math.max(p99.reference ?? 1, 0.001));
      }
      const l = latency[rate];
      const pair = (s: System) => `${fmt(median(l.p50[s]))} / ${fmt(median(l.p99[s]))}`;
      rows.push([`latency at a constant ${rate} req/s, typical pod: p50 / p99 (ms)`, pair('kube-irsa'), pair('kube-irsa-2w'), pair('reference'), `${fmt(median(l.ratiosP99), 2)}× / ${fmt(median(l.ratiosP99w), 2)}× p99`, rate === 1000 ? 'p99 ≤ 0.7×' : '']);
      log(`latency at ${rate} req/s done`);
    }
    results.latency = latency;
    // what the load left: V8 and glibc keep part of what admissions used, and the elastic thread is still up
    const afterLoad: Partial<Record<System, number>> = {};
    for (const s of SYSTEMS) afterLoad[s] = await treeRssMiB(systems[s].child.pid ?? 0);
    results.rssAfterLoadMiB = afterLoad;
    rows.push(['resident memory right after the throughput and latency runs (MiB, all processes)', fmt(afterLoad['kube-irsa'] ?? 0, 0), fmt(afterLoad['kube-irsa-2w'] ?? 0, 0), fmt(afterLoad.reference ?? 0, 0), '', '']);
    for (const r of Object.values(systems)) await r.stop();
  }

  // memory and time to ready with many ServiceAccounts: the cluster grows to each size in turn
  const bigNs = await kube.createNamespace('many');
  const memoryBySize: Record<number, Record<System, { readyMs: number; rssMiB: number }[]>> = {};
  let created = 0;
  for (const count of MODE.serviceAccounts) {
    log(`creating ServiceAccounts up to ${count} (10% annotated)`);
    await createServiceAccounts(kube, bigNs, count, created);
    created = count;
    const lastAnnotated = `sa-${Math.floor((count - 1) / 10) * 10}`;
    const memory: Record<System, { readyMs: number; rssMiB: number }[]> = { 'kube-irsa': [], reference: [], 'kube-irsa-2w': [] };
    for (let round = 0; round < Math.min(MODE.pairs, 2); round++) {
      for (const s of orderOf(round)) {
        const r = await startSystem(s, cp, binDir, cert);
        const readyMs = await waitMutating(r, cp.ca.certPem, bigNs, lastAnnotated, 300_000);
        await new Promise((res) => setTimeout(res, 3_000));
        memory[s].push({ readyMs, rssMiB: await treeRssMiB(r.child.pid ?? 0) });
        await r.stop();
      }
    }
    memoryBySize[count] = memory;
    const rss = (s: System) => median(memory[s].map((m) => m.rssMiB));
    const ready = (s: System) => median(memory[s].map((m) => m.readyMs)) / 1000;
    log(`memory with ${count} ServiceAccounts: kube-irsa ${fmt(rss('kube-irsa'), 0)}, with 2 workers ${fmt(rss('kube-irsa-2w'), 0)}, reference ${fmt(rss('reference'), 0)} MiB`);
    rows.push([`resident memory after sync, ${count.toLocaleString('en')} ServiceAccounts (MiB, all processes)`, fmt(rss('kube-irsa'), 0), fmt(rss('kube-irsa-2w'), 0), fmt(rss('reference'), 0), `${fmt(rss('kube-irsa') / rss('reference'), 2)}× / ${fmt(rss('kube-irsa-2w') / rss('reference'), 2)}×`, MEMORY_TARGET[count] ?? '']);
    rows.push([`time to mutate the last ServiceAccount's pods after start, ${count.toLocaleString('en')} ServiceAccounts (s)`, fmt(ready('kube-irsa')), fmt(ready('kube-irsa-2w')), fmt(ready('reference')), `${fmt(ready('kube-irsa') / ready('reference'), 2)}×`, '']);
  }
  results.memory = memoryBySize;
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});
