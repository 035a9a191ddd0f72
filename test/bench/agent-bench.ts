// The agent's benchmarks: time from pod CREATE to its verdict Event, STS calls per interval with
// many agents sharing results through IRSACheck, and one agent's resident memory on a busy node.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { IRSACHECK } from '../../agent/fleet.ts';
import { startAgent, type RunningAgent } from '../../agent/main.ts';
import { parseFlags } from '../../shared/cli/flags.ts';
import { apiServerMetrics, sumOf } from '../cluster/api-server-metrics.ts';
import { freePorts, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { applyManifestFile } from '../cluster/manifests.ts';
import { rssMiB } from '../cluster/process.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { writeProjectedToken } from '../support/kubelet-dir.ts';

const ACCOUNT = '111122223333';
const ROOT = path.join(import.meta.dirname, '..', '..');

export interface AgentBenchResult {
  /** Absent with memoryOnly. */
  verdictLatency?: { samples: number; p50: number; p99: number; seconds: number[] };
  fleet?: {
    agents: number; serviceAccounts: number; intervalSeconds: number; intervals: number; calls: number; callsPerInterval: number;
    /** What each agent costs the API server, from its own metrics: open watches, and requests per minute once settled. */
    watchesPerAgent: number; apiRequestsPerAgentPerMinute: number;
  };
  /** rssMiB is what the target is about; the rest says where it goes (V8 heap, buffers, the rest of the process). */
  memory: { pods: number; serviceAccounts: number; clusterServiceAccounts: number; rssMiB: number; heapUsedMiB: number; heapTotalMiB: number; externalMiB: number };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

/** A pod as the webhook would have mutated it, created directly (the webhook is not under test here). */
function mutatedPod(name: string, sa: string, node: string, role: string): V1Pod {
  const mount = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
  return {
    metadata: { name, annotations: { 'kube-irsa.io/injected': JSON.stringify({ mode: 'web-identity', roleArn: role, audience: 'sts.amazonaws.com', source: 'service-account' }) } },
    spec: {
      serviceAccountName: sa, nodeName: node,
      containers: [{ name: 'app', image: 'app:1', env: [{ name: 'AWS_ROLE_ARN', value: role }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${mount}/token` }], volumeMounts: [{ name: 'aws-iam-token', mountPath: mount, readOnly: true }] }],
      volumes: [{ name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] } }],
    },
  };
}

async function parallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  }));
}

/** `cli`: the kube-irsa launcher the agent processes run from (the built app). */
export async function benchAgents(cp: ControlPlane, opts: { full: boolean; log: (s: string) => void; cli: string; memoryOnly?: boolean }): Promise<AgentBenchResult> {
  const kube = new KubeHelpers(cp.kubeConfig);
  const providerUrl = cp.issuer.replace('https://', '');
  const trust = (ns: string, sa: string) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${providerUrl}:sub`]: `system:serviceaccount:${ns}:${sa}` } } }] });
  await applyManifestFile(cp.kubeConfig, path.join(ROOT, 'deploy', 'kube-irsa', 'crds', 'irsachecks.kube-irsa.io.yaml')).catch(() => undefined);
  // a cluster has had the CRD long before its agents start; the API server's first write of a new
  // resource takes ≈ 2 s (measured), which the first sample would otherwise count as the agent's
  const warmNs = await kube.createNamespace('crd-warm-up');
  const custom = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({ ...IRSACHECK, namespace: warmNs, body: { apiVersion: `${IRSACHECK.group}/${IRSACHECK.version}`, kind: IRSACHECK.kind, metadata: { name: 'warm-up' }, spec: { serviceAccountName: 'warm-up' } } });
  await custom.deleteNamespacedCustomObject({ ...IRSACHECK, namespace: warmNs, name: 'warm-up' });
  const sts = await StsEmulator.start({ extraCaPems: [cp.ca.certPem], config: { region: 'us-west-2', accounts: [{ id: ACCOUNT, oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }] }] } });
  const kubelet = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-bench-kubelet-'));
  const caFile = path.join(kubelet, 'ca.pem');
  await writeFile(caFile, cp.ca.certPem);
  const agentArgs = (node: string, extra: string[]) => [`--node-name=${node}`, '--kubeconfig', cp.kubeconfigPath, `--sts-endpoint=${sts.endpoint}`, `--issuer-ca-file=${caFile}`,
    '--region=us-west-2', '--port=0', '--bind-address=127.0.0.1', '--sts-qps=200', `--kubelet-root-dir=${kubelet}`, '--token-wait=1s', ...extra];
  const spawnAgent = async (node: string, extra: string[]) => {
    const [port] = await freePorts(1);
    const child = spawn(opts.cli, ['agent', ...agentArgs(node, extra).filter((a) => !a.startsWith('--port')), `--port=${port}`], { stdio: 'ignore' });
    await eventually(async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok ? true : undefined), `agent ${node} to be ready`, 30_000, 50);
    return {
      port, child,
      async stop() {
        if (child.exitCode !== null) return;
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      },
    };
  };
  const start = (node: string, extra: string[]) => startAgent(buildAgentConfig(parseFlags(AGENT_FLAGS, agentArgs(node, extra)).values).config, pino({ level: 'silent' }));
  const result: Partial<AgentBenchResult> = {};
  try {
    if (!opts.memoryOnly) {
      // 1. pod CREATE → verdict Event
      const samples = opts.full ? 100 : 30;
      const ns = await kube.createNamespace('verdicts');
      // a process of its own, as deployed: the bench's own work does not share its event loop
      const latencyAgent = await spawnAgent('node-latency', ['--token-source=token-request', '--recheck-interval=10m']);
      const latencies: number[] = [];
      for (let i = 0; i < samples; i++) {
        const sa = `app-${i}`;
        await kube.createServiceAccount(ns, sa, { 'eks.amazonaws.com/role-arn': `arn:aws:iam::${ACCOUNT}:role/${sa}` });
        sts.state.putRole(ACCOUNT, { name: sa, trustPolicy: trust(ns, sa) });
        const created = Date.now();
        await kube.core.createNamespacedPod({ namespace: ns, body: mutatedPod(`${sa}-0`, sa, 'node-latency', `arn:aws:iam::${ACCOUNT}:role/${sa}`) });
        await eventually(async () => {
          const evs = await kube.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${sa}-0` });
          return evs.items.some((e) => e.reason === 'Healthy') ? true : undefined;
        }, `the verdict of ${sa}-0`, 30_000, 20);
        latencies.push((Date.now() - created) / 1000);
      }
      await latencyAgent.stop();
      result.verdictLatency = { samples, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), seconds: latencies };
      opts.log(`verdict latency p50 ${result.verdictLatency.p50.toFixed(2)} s, p99 ${result.verdictLatency.p99.toFixed(2)} s over ${samples} pods (first ${latencies[0]?.toFixed(2)} s, slowest ${Math.max(...latencies).toFixed(2)} s)`);

      // 2. STS calls per interval with many agents sharing results
      const agents = 50;
      const serviceAccounts = opts.full ? 500 : 20;
      const intervalSeconds = opts.full ? 60 : 10;
      const fleetNs = await kube.createNamespace('fleet');
      const sas = Array.from({ length: serviceAccounts }, (_, i) => `svc-${i}`);
      await parallel(sas, 16, async (sa) => {
        await kube.createServiceAccount(fleetNs, sa, { 'eks.amazonaws.com/role-arn': `arn:aws:iam::${ACCOUNT}:role/${sa}` });
        sts.state.putRole(ACCOUNT, { name: sa, trustPolicy: trust(fleetNs, sa) });
      });
      const nodes = Array.from({ length: agents }, (_, i) => `node-${String(i).padStart(2, '0')}`);
      opts.log(`creating ${agents * serviceAccounts} pods with their token files`);
      await parallel(nodes.flatMap((node) => sas.map((sa) => ({ node, sa }))), 32, async ({ node, sa }) => {
        const pod = await kube.core.createNamespacedPod({ namespace: fleetNs, body: mutatedPod(`${sa}-${node}`, sa, node, `arn:aws:iam::${ACCOUNT}:role/${sa}`) });
        await writeProjectedToken(kubelet, pod.metadata!.uid!, 'aws-iam-token', 'token', await kube.tokenForPod(pod, { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 }));
      });
      const watchesBefore = sumOf(await apiServerMetrics(cp), 'apiserver_longrunning_requests', /verb="WATCH"/);
      const running: RunningAgent[] = [];
      for (const node of nodes) running.push(await start(node, ['--token-source=kubelet', `--recheck-interval=${intervalSeconds}s`]));
      const verifying = Date.now();
      await eventually(() => running.every((a, i) => sas.every((sa) => a.agent.podVerdict(fleetNs, `${sa}-${nodes[i]}`)?.reason === 'Healthy')) ? true : undefined, 'every agent to verify every pod', 600_000, 500);
      // on a small machine the in-process fleet can take longer than an interval to get round
      opts.log(`fleet: every agent verified every pod in ${((Date.now() - verifying) / 1000).toFixed(0)} s`);
      const intervals = 3;
      const from = sts.requests.length;
      const settled = await apiServerMetrics(cp);
      const measuring = Date.now();
      await new Promise((r) => setTimeout(r, intervals * intervalSeconds * 1000));
      const calls = sts.requests.slice(from).filter((r) => r.roleArn?.includes(':role/svc-')).length;
      const end = await apiServerMetrics(cp);
      const minutes = (Date.now() - measuring) / 60_000;
      const watchesPerAgent = (sumOf(settled, 'apiserver_longrunning_requests', /verb="WATCH"/) - watchesBefore) / agents;
      const apiRequestsPerAgentPerMinute = (sumOf(end, 'apiserver_request_total') - sumOf(settled, 'apiserver_request_total')) / agents / minutes;
      for (const a of running) await a.stop();
      result.fleet = { agents, serviceAccounts, intervalSeconds, intervals, calls, callsPerInterval: calls / intervals, watchesPerAgent, apiRequestsPerAgentPerMinute };
      opts.log(`fleet: ${calls} STS calls in ${intervals} intervals for ${serviceAccounts} identities on ${agents} nodes`);
      opts.log(`fleet: ${watchesPerAgent.toFixed(1)} watches and ${apiRequestsPerAgentPerMinute.toFixed(1)} API requests per minute per agent`);
    }

    // 3. one agent process with 110 pods of 50 ServiceAccounts on its node
    const memNs = await kube.createNamespace('busy');
    const memSas = Array.from({ length: 50 }, (_, i) => `busy-${i}`);
    await parallel(memSas, 16, async (sa) => {
      await kube.createServiceAccount(memNs, sa, { 'eks.amazonaws.com/role-arn': `arn:aws:iam::${ACCOUNT}:role/${sa}` });
      sts.state.putRole(ACCOUNT, { name: sa, trustPolicy: trust(memNs, sa) });
    });
    await parallel(Array.from({ length: 110 }, (_, i) => i), 16, async (i) => {
      const sa = memSas[i % 50]!;
      const pod = await kube.core.createNamespacedPod({ namespace: memNs, body: mutatedPod(`busy-pod-${i}`, sa, 'node-busy', `arn:aws:iam::${ACCOUNT}:role/${sa}`) });
      await writeProjectedToken(kubelet, pod.metadata!.uid!, 'aws-iam-token', 'token', await kube.tokenForPod(pod, { audiences: ['sts.amazonaws.com'] }));
    });
    const busy = await spawnAgent('node-busy', ['--token-source=kubelet', '--recheck-interval=30s']);
    const { port, child } = busy;
    try {
      await eventually(async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text().catch(() => '');
        return /kube_irsa_agent_pods\{reason="Healthy"\} 110\b/.test(text) ? true : undefined;
      }, 'the busy agent to verify its 110 pods', 120_000, 500);
      await new Promise((r) => setTimeout(r, 5_000));
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN) / 2 ** 20;
      // one item and the count of the rest (the API server's storage metrics lack this resource here)
      const firstPage = await kube.core.listServiceAccountForAllNamespaces({ limit: 1 });
      const clusterServiceAccounts = firstPage.items.length + (firstPage.metadata?.remainingItemCount ?? 0);
      result.memory = {
        pods: 110, serviceAccounts: 50, clusterServiceAccounts, rssMiB: await rssMiB(child.pid ?? 0),
        heapUsedMiB: gauge('nodejs_heap_size_used_bytes'), heapTotalMiB: gauge('nodejs_heap_size_total_bytes'), externalMiB: gauge('nodejs_external_memory_bytes'),
      };
      opts.log(`agent RSS with 110 pods / 50 ServiceAccounts (${clusterServiceAccounts} in the cluster): ${result.memory.rssMiB.toFixed(0)} MiB (V8 heap ${result.memory.heapUsedMiB.toFixed(0)} used of ${result.memory.heapTotalMiB.toFixed(0)}, external ${result.memory.externalMiB.toFixed(0)})`);
    } finally {
      await busy.stop();
    }
  } finally {
    await sts.stop();
    await rm(kubelet, { recursive: true, force: true });
  }
  return result as AgentBenchResult;
}
