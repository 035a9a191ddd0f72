// The agent's flags and its frozen config. Identity flags are the webhook's (shared), so the agent
// resolves a ServiceAccount exactly as the webhook does.
import { readFileSync } from 'node:fs';
import { ConfigError, type FlagSpecs, type FlagValues } from '../shared/cli/flags.ts';
import type { IdentityDefaults } from '../shared/identity/annotations.ts';
import { IDENTITY_FLAGS, identityDefaultsFrom } from '../shared/identity/flags.ts';
import { KUBE_FLAGS, kubeConfigOptions, requireApiServer } from '../shared/kube/flags.ts';
import type { KubeConfigOptions } from '../shared/kube/config.ts';
import { LOG_LEVELS, type LogLevel } from '../shared/logging.ts';
import { endpointProblem, stsEndpointProblem } from './core/sts-endpoint.ts';

export const AGENT_FLAGS = {
  'node-name': { kind: 'string', default: '', help: 'the node this agent watches (default: $NODE_NAME, set from the downward API)' },
  ...KUBE_FLAGS,
  ...IDENTITY_FLAGS,
  'token-source': { kind: 'string', default: 'kubelet', choices: ['kubelet', 'token-request'], help: 'kubelet: read the token the pod really uses from the kubelet\'s pod volumes (read-only host path); token-request: mint a short pod-bound token' },
  'kubelet-root-dir': { kind: 'string', default: '/var/lib/kubelet', help: 'the kubelet\'s root directory as mounted in the agent (kubelet token source)' },
  region: { kind: 'string', default: '', help: 'STS region for pods that set none (default: $AWS_REGION, else us-east-1)' },
  'sts-endpoint': { kind: 'string', default: '', help: 'STS endpoint URL overriding the regional one; {region} is replaced by the pod\'s region (e.g. https://sts.{region}.amazonaws.com, a VPC endpoint, an emulator)' },
  'issuer-ca-file': { kind: 'list', default: [], metavar: 'pem', help: 'extra CA certificates trusted when fetching issuer discovery and JWKS (repeatable)' },
  'recheck-interval': { kind: 'duration', default: 900_000, help: 'how often a healthy identity is checked again (±20% jitter)' },
  'misconfigured-recheck-interval': { kind: 'duration', default: 60_000, help: 'first re-check of a misconfigured identity; doubles on each repeat up to --recheck-interval' },
  'retry-interval': { kind: 'duration', default: 10_000, help: 'first retry after an inconclusive check; doubles up to --recheck-interval' },
  'token-wait': { kind: 'duration', default: 60_000, help: 'how long a new pod\'s token may be missing (the kubelet has not mounted it yet) before TokenUnreadable is reported' },
  'sts-qps': { kind: 'int', default: 5, min: 1, max: 1000, help: 'at most this many STS calls per second from this agent (STS allows about 600/s per account, shared with workloads)' },
  'iam-reads': { kind: 'bool', default: false, help: 'read IAM (GetRole, the OIDC providers) with the agent\'s own AWS credentials (the SDK\'s default chain) to name the cause of a refusal; without permission the verdict is unchanged and the message names the permission (docs/security.md)' },
  'iam-endpoint': { kind: 'string', default: '', help: 'IAM endpoint URL overriding the partition\'s (e.g. an emulator)' },
  'iam-cache-ttl': { kind: 'duration', default: 300_000, help: 'how long what IAM said about a role is reused, by this agent and through the IRSACheck by every agent' },
  fleet: { kind: 'bool', default: true, help: 'share probe results through IRSACheck objects, so each identity is probed once per interval cluster-wide' },
  'claim-timeout': { kind: 'duration', default: 30_000, help: 'how long a claimed probe may take before another agent takes it over' },
  'stale-after': { kind: 'duration', default: 3_600_000, help: 'IRSAChecks no agent probed for this long are deleted (their ServiceAccount has no pods left)' },
  'cache-size': { kind: 'int', default: 10_000, min: 10, help: 'identities kept in the health cache (least recently used dropped)' },
  port: { kind: 'int', default: 8080, min: 0, max: 65535, help: 'HTTP port for /metrics, /healthz and /readyz' },
  'bind-address': { kind: 'string', default: '', help: 'address to listen on (default: all interfaces)' },
  'log-level': { kind: 'string', default: 'info', choices: LOG_LEVELS, help: 'log level' },
} as const satisfies FlagSpecs;

export type AgentFlagValues = FlagValues<typeof AGENT_FLAGS>;

export interface AgentConfig {
  readonly nodeName: string;
  /** --kubeconfig, --context, --kube-api */
  readonly kube: KubeConfigOptions;
  readonly identity: IdentityDefaults;
  readonly watchConfigMap: boolean;
  readonly configMapNamespace: string;
  /** The EKS Pod Identity association file (--watch-container-credentials-config); '' when none. */
  readonly containerCredentialsFile: string;
  readonly tokenSource: 'kubelet' | 'token-request';
  readonly kubeletRootDir: string;
  readonly region: string;
  readonly stsEndpoint: string | undefined;
  readonly issuerCaPems: readonly string[];
  readonly recheckIntervalMs: number;
  readonly misconfiguredRecheckIntervalMs: number;
  readonly retryIntervalMs: number;
  readonly tokenWaitMs: number;
  readonly stsQps: number;
  readonly iamReads: boolean;
  readonly iamEndpoint: string | undefined;
  readonly iamCacheTtlMs: number;
  readonly fleet: boolean;
  readonly claimTimeoutMs: number;
  readonly staleAfterMs: number;
  readonly cacheSize: number;
  readonly port: number;
  readonly bindAddress: string;
  readonly logLevel: LogLevel;
}


/** The PEM text of each --issuer-ca-file; an unreadable file is a problem, not a crash. */
export function readIssuerCaFiles(files: readonly string[], problems: string[]): string[] {
  const pems: string[] = [];
  for (const f of files) {
    try {
      pems.push(readFileSync(f, 'utf8'));
    } catch (err) {
      problems.push(`cannot read --issuer-ca-file ${f}: ${(err as Error).message}`);
    }
  }
  return pems;
}

export function buildAgentConfig(v: AgentFlagValues, env: NodeJS.ProcessEnv = process.env): { config: AgentConfig; notices: string[] } {
  const problems: string[] = [];
  const notices: string[] = [];
  const identity = identityDefaultsFrom(v, problems, notices);
  requireApiServer(v, problems);
  const nodeName = v['node-name'] || env.NODE_NAME || '';
  if (nodeName === '') problems.push('the node name is unknown: pass --node-name or set NODE_NAME (the chart sets it from spec.nodeName)');
  const stsProblem = v['sts-endpoint'] === '' ? undefined : stsEndpointProblem(v['sts-endpoint']);
  if (stsProblem) problems.push(stsProblem);
  const iamEndpointProblem = v['iam-endpoint'] === '' ? undefined : endpointProblem('--iam-endpoint', v['iam-endpoint']);
  if (iamEndpointProblem) problems.push(iamEndpointProblem);
  const region = v.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) problems.push(`--region "${region}" is not an AWS region name`);
  const issuerCaPems = readIssuerCaFiles(v['issuer-ca-file'], problems);
  for (const f of ['recheck-interval', 'misconfigured-recheck-interval', 'retry-interval'] as const) {
    if (v[f] < 100) problems.push(`--${f} must be at least 100ms`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    notices,
    config: Object.freeze({
      nodeName, kube: kubeConfigOptions(v), identity,
      watchConfigMap: v['watch-config-map'], configMapNamespace: v.namespace, containerCredentialsFile: v['watch-container-credentials-config'],
      tokenSource: v['token-source'] as AgentConfig['tokenSource'], kubeletRootDir: v['kubelet-root-dir'],
      region, stsEndpoint: v['sts-endpoint'] || undefined, issuerCaPems,
      recheckIntervalMs: v['recheck-interval'], misconfiguredRecheckIntervalMs: v['misconfigured-recheck-interval'], retryIntervalMs: v['retry-interval'], tokenWaitMs: v['token-wait'],
      stsQps: v['sts-qps'], iamReads: v['iam-reads'], iamEndpoint: v['iam-endpoint'] || undefined, iamCacheTtlMs: v['iam-cache-ttl'], fleet: v.fleet, claimTimeoutMs: v['claim-timeout'], staleAfterMs: v['stale-after'], cacheSize: v['cache-size'], port: v.port, bindAddress: v['bind-address'], logLevel: v['log-level'] as LogLevel,
    }),
  };
}
