// The agent's benchmarks: time from pod CREATE to its verdict Event, STS calls per interval with
// many agents sharing results through IRSACheck, and one agent's resident memory on a busy node.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../agent/main.ts';
import { parseFlags } from '../../shared/cli/flags.ts';
import { freePorts, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { applyManifestFile } from '../cluster/manifests.ts';
import { rssMiB } from '../cluster/process.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { writeProjectedToken } from '../support/kubelet-dir.ts';

const ACCOUNT = '111122223333';
const ROOT = path.join(import.meta.dirname, '..', '..');

export interface AgentBenchResult {
  verdictLatency: { samples: number; p50: number; p99: number };
  fleet: { agents: number; serviceAccounts: number; intervalSeconds: number; intervals: number; calls: number; callsPerInterval: number };
  memory: { pods: number; serviceAccounts: number; rssMiB: number };
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

export async function benchAgents(cp: ControlPlane, opts: { full: boolean; log: (s: string) => void }): Promise<AgentBenchResult> {
  const kube = new KubeHelpers(cp.kubeConfig);
  const providerUrl = cp.issuer.replace('https://', '');
  const trust = (ns: string, sa: string) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${providerUrl}:sub`]: `system:serviceaccount:${ns}:${sa}` } } }] });
  await applyManifestFile(cp.kubeConfig, path.join(ROOT, 'deploy', 'kube-irsa', 'crds', 'irsachecks.kube-irsa.io.yaml')).catch(() => undefined);
  const sts = await StsEmulator.start({ extraCaPems: [cp.ca.certPem], config: { region: 'us-west-2', accounts: [{ id: ACCOUNT, oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }] }] } });
  const kubelet = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-bench-kubelet-'));
  const caFile = path.join(kubelet, 'ca.pem');
  await writeFile(caFile, cp.ca.certPem);
  const agentArgs = (node: string, extra: string[]) => [`--node-name=${node}`, '--kubeconfig', cp.kubeconfigPath, `--sts-endpoint=${sts.endpoint}`, `--issuer-ca-file=${caFile}`,
    '--region=us-west-2', '--port=0', '--bind-address=127.0.0.1', '--sts-qps=200', `--kubelet-root-dir=${kubelet}`, '--token-wait=1s', ...extra];
  const start = (node: string, extra: string[]) => startAgent(buildAgentConfig(parseFlags(AGENT_FLAGS, agentArgs(node, extra)).values).config, pino({ level: 'silent' }));
  const result: Partial<AgentBenchResult> = {};
  try {
    // 1. pod CREATE → verdict Event
    const samples = opts.full ? 100 : 30;
    const ns = await kube.createNamespace('verdicts');
    const latencyAgent = await start('node-latency', ['--token-source=token-request', '--recheck-interval=10m']);
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
    result.verdictLatency = { samples, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
    opts.log(`verdict latency p50 ${result.verdictLatency.p50.toFixed(2)} s, p99 ${result.verdictLatency.p99.toFixed(2)} s over ${samples} pods`);

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
    const running: RunningAgent[] = [];
    for (const node of nodes) running.push(await start(node, ['--token-source=kubelet', `--recheck-interval=${intervalSeconds}s`]));
    await eventually(() => running.every((a, i) => sas.every((sa) => a.agent.podVerdict(fleetNs, `${sa}-${nodes[i]}`)?.reason === 'Healthy')) ? true : undefined, 'every agent to verify every pod', 600_000, 500);
    const intervals = 3;
    const from = sts.requests.length;
    await new Promise((r) => setTimeout(r, intervals * intervalSeconds * 1000));
    const calls = sts.requests.slice(from).filter((r) => r.roleArn?.includes(':role/svc-')).length;
    for (const a of running) await a.stop();
    result.fleet = { agents, serviceAccounts, intervalSeconds, intervals, calls, callsPerInterval: calls / intervals };
    opts.log(`fleet: ${calls} STS calls in ${intervals} intervals for ${serviceAccounts} identities on ${agents} nodes`);

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
    const [port] = await freePorts(1);
    const child = spawn(path.join(ROOT, 'bin', 'kube-irsa'), ['agent', ...agentArgs('node-busy', ['--token-source=kubelet', '--recheck-interval=30s']).filter((a) => !a.startsWith('--port')), `--port=${port}`], { stdio: 'ignore' });
    try {
      await eventually(async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text().catch(() => '');
        return /kube_irsa_agent_pods\{reason="Healthy"\} 110\b/.test(text) ? true : undefined;
      }, 'the busy agent to verify its 110 pods', 120_000, 500);
      await new Promise((r) => setTimeout(r, 5_000));
      result.memory = { pods: 110, serviceAccounts: 50, rssMiB: await rssMiB(child.pid ?? 0) };
      opts.log(`agent RSS with 110 pods / 50 ServiceAccounts: ${result.memory.rssMiB.toFixed(0)} MiB`);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  } finally {
    await sts.stop();
    await rm(kubelet, { recursive: true, force: true });
  }
  return result as AgentBenchResult;
}
