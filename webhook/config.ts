// The webhook's flags: every flag of amazon-eks-pod-identity-webhook with its name and default (so
// manifests carry over unchanged), kube-irsa's own, and the validation that turns them into one
// frozen WebhookConfig. Where kube-irsa cannot or will not do what a flag asked, it says so.
import { ConfigError, type FlagSpecs, type FlagValues } from '../shared/cli/flags.ts';
import { availableParallelism } from 'node:os';
import type { IdentityDefaults } from '../shared/identity/annotations.ts';
import { IDENTITY_FLAGS, identityDefaultsFrom } from '../shared/identity/flags.ts';
import { KUBE_FLAGS, kubeConfigOptions, requireApiServer } from '../shared/kube/flags.ts';
import type { KubeConfigOptions } from '../shared/kube/config.ts';
import { LOG_LEVELS, type LogLevel } from '../shared/logging.ts';
import type { MutationSettings } from './core/patch.ts';
import { resolveTlsOptions, type TlsPolicy } from './tls-policy.ts';

const KLOG = 'klog flag of the reference; accepted and ignored (kube-irsa logs JSON, see --log-level)';

export const WEBHOOK_FLAGS = {
  ...IDENTITY_FLAGS,
  ...KUBE_FLAGS,
  port: { kind: 'int', default: 443, min: 0, max: 65535, help: 'HTTPS port for /mutate, /healthz and /readyz (0: any free port)' },
  'metrics-port': { kind: 'int', default: 9999, min: 0, max: 65535, help: 'plain-HTTP port for /metrics (0: any free port)' },
  'bind-address': { kind: 'string', default: '', help: 'address to listen on (default: all interfaces)' },
  'tls-cert': { kind: 'string', default: '/etc/webhook/certs/tls.crt', help: 'serving certificate (PEM); reloaded when it changes' },
  'tls-key': { kind: 'string', default: '/etc/webhook/certs/tls.key', help: 'serving key (PEM); reloaded when it changes' },
  'tls-min-version': { kind: 'string', default: '', help: 'minimum TLS version: 1.0, 1.1, 1.2, 1.3 or VersionTLS1x (default 1.2)' },
  'tls-cipher-suites': { kind: 'list', default: [], help: 'comma-separated Go/IANA cipher suite names (default: Node\'s)' },
  'token-mount-path': { kind: 'string', default: '/var/run/secrets/eks.amazonaws.com/serviceaccount', help: 'where the token volume is mounted' },
  'aws-default-region': { kind: 'string', default: '', help: 'inject AWS_DEFAULT_REGION and AWS_REGION with this region' },
  'container-credentials-audience': { kind: 'string', default: 'pods.eks.amazonaws.com', help: 'token audience in container-credentials mode' },
  'container-credentials-token-mount-path': { kind: 'string', default: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount', help: 'mount path in container-credentials mode' },
  'container-credentials-token-volume-name': { kind: 'string', default: 'eks-pod-identity-token', help: 'volume name in container-credentials mode' },
  'container-credentials-token-path': { kind: 'string', default: 'eks-pod-identity-token', help: 'token file name in container-credentials mode' },
  'container-credentials-full-uri': { kind: 'string', default: 'http://169.254.170.23/v1/credentials', help: 'AWS_CONTAINER_CREDENTIALS_FULL_URI in container-credentials mode' },
  'service-account-lookup-grace-period': { kind: 'duration', default: 2_000, help: 'how long a pod whose ServiceAccount is not cached yet may wait for a live lookup (reference default: 0, which races)' },
  'log-level': { kind: 'string', default: 'info', choices: LOG_LEVELS, help: 'log level' },
  workers: { kind: 'int', default: 1, min: 0, max: 64, help: 'the most threads serving admissions on the one port (0: one per CPU); each costs 15-30 MiB' },
  'worker-idle-timeout': { kind: 'duration', default: 0, help: 'with --workers above 1: start threads beyond the first only when admissions are busy, and stop one after the load has fit in fewer for this long (0: start them all at once and keep them)' },
  'max-in-flight': { kind: 'int', default: 512, min: 0, help: 'admissions in progress beyond which new ones get 503 at once instead of queueing (0: no limit)' },
  'shutdown-grace-period': { kind: 'duration', default: 10_000, help: 'on SIGTERM, how long in-flight admissions may take to finish' },
  // accepted for drop-in compatibility
  'in-cluster': { kind: 'bool', default: true, compat: true, help: 'the reference obtains its certificate through a CSR with a signer that no longer exists; kube-irsa always serves --tls-cert/--tls-key' },
  'service-name': { kind: 'string', default: 'pod-identity-webhook', compat: true, help: 'used only by the reference\'s CSR flow; ignored' },
  'tls-secret': { kind: 'string', default: 'pod-identity-webhook', compat: true, help: 'used only by the reference\'s CSR flow; ignored' },
  'resync-period': { kind: 'duration', default: 60_000, compat: true, help: 'accepted; watches resume from their resourceVersion, so nothing is re-listed' },
  'enable-debugging-handlers': { kind: 'bool', default: false, compat: true, help: 'serves /debug/alpha/cache on the metrics port' },
  version: { kind: 'bool', default: false, compat: true, help: 'print the version and exit' },
  v: { kind: 'int', default: 0, compat: true, help: KLOG },
  logtostderr: { kind: 'bool', default: true, compat: true, help: KLOG },
  alsologtostderr: { kind: 'bool', default: false, compat: true, help: KLOG },
  log_dir: { kind: 'string', default: '', compat: true, help: KLOG },
  log_file: { kind: 'string', default: '', compat: true, help: KLOG },
  log_file_max_size: { kind: 'int', default: 1800, compat: true, help: KLOG },
  skip_headers: { kind: 'bool', default: false, compat: true, help: KLOG },
  skip_log_headers: { kind: 'bool', default: false, compat: true, help: KLOG },
  stderrthreshold: { kind: 'string', default: '2', compat: true, help: KLOG },
  vmodule: { kind: 'string', default: '', compat: true, help: KLOG },
  log_backtrace_at: { kind: 'string', default: '', compat: true, help: KLOG },
  add_dir_header: { kind: 'bool', default: false, compat: true, help: KLOG },
  one_output: { kind: 'bool', default: false, compat: true, help: KLOG },
  legacy_stderr_threshold_behavior: { kind: 'bool', default: true, compat: true, help: KLOG },
} as const satisfies FlagSpecs;

export type WebhookFlagValues = FlagValues<typeof WEBHOOK_FLAGS>;

export interface WebhookConfig {
  readonly port: number;
  readonly metricsPort: number;
  readonly bindAddress: string;
  /** --kubeconfig, --context, --kube-api */
  readonly kube: KubeConfigOptions;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  readonly tls: TlsPolicy;
  readonly identity: IdentityDefaults;
  readonly mutation: Omit<MutationSettings, 'random'>;
  readonly watchConfigMap: boolean;
  readonly configMapNamespace: string;
  readonly containerCredentialsFile: string;
  readonly lookupGracePeriodMs: number;
  readonly shutdownGracePeriodMs: number;
  readonly maxInFlight: number;
  readonly workers: number;
  /** 0: every thread of --workers starts at once and stays; else threads beyond the first are elastic. */
  readonly workerIdleTimeoutMs: number;
  readonly debugHandlers: boolean;
  readonly logLevel: LogLevel;
}

export interface ConfigResult {
  readonly config: WebhookConfig;
  /** Things kube-irsa does differently from what a flag asked, said once at start. */
  readonly notices: readonly string[];
}

export { ConfigError };

export function buildWebhookConfig(v: WebhookFlagValues, given: ReadonlySet<string>, opts: { requireApiServer: boolean } = { requireApiServer: true }): ConfigResult {
  const problems: string[] = [];
  const notices: string[] = [];
  if (given.has('in-cluster') && v['in-cluster']) {
    notices.push('--in-cluster=true: the reference\'s CSR certificate flow uses the kubernetes.io/legacy-unknown signer, which certificates/v1 removed; kube-irsa serves --tls-cert/--tls-key (cert-manager, the Helm chart or an existing Secret provide them)');
  }
  const klogGiven = [...given].filter((f) => (WEBHOOK_FLAGS as FlagSpecs)[f]?.help === KLOG);
  if (klogGiven.length > 0) notices.push(`klog flags are accepted and ignored (${klogGiven.map((f) => `--${f}`).join(', ')}); use --log-level`);

  const tls = resolveTlsOptions(v['tls-min-version'], v['tls-cipher-suites']);
  problems.push(...tls.problems);

  const identity = identityDefaultsFrom(v, problems, notices);
  for (const f of ['token-mount-path', 'container-credentials-token-mount-path'] as const) {
    if (!v[f].startsWith('/')) problems.push(`--${f} "${v[f]}" must be an absolute path`);
  }
  if (v['aws-default-region'] !== '' && !/^[a-z0-9-]+$/.test(v['aws-default-region'])) problems.push(`--aws-default-region "${v['aws-default-region']}" is not a region name`);
  if (opts.requireApiServer) requireApiServer(v, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  const config: WebhookConfig = {
    port: v.port,
    metricsPort: v['metrics-port'],
    bindAddress: v['bind-address'],
    kube: kubeConfigOptions(v),
    tlsCertFile: v['tls-cert'],
    tlsKeyFile: v['tls-key'],
    tls: tls.policy,
    identity,
    mutation: {
      annotationPrefix: v['annotation-prefix'],
      region: v['aws-default-region'],
      webIdentity: { volumeName: 'aws-iam-token', tokenPath: 'token', mountPath: v['token-mount-path'] },
      containerCredentials: {
        volumeName: v['container-credentials-token-volume-name'],
        tokenPath: v['container-credentials-token-path'],
        mountPath: v['container-credentials-token-mount-path'],
        audience: v['container-credentials-audience'],
        fullUri: v['container-credentials-full-uri'],
      },
    },
    watchConfigMap: v['watch-config-map'],
    configMapNamespace: v.namespace,
    containerCredentialsFile: v['watch-container-credentials-config'],
    lookupGracePeriodMs: v['service-account-lookup-grace-period'],
    shutdownGracePeriodMs: v['shutdown-grace-period'],
    maxInFlight: v['max-in-flight'],
    workers: v.workers === 0 ? availableParallelism() : v.workers,
    workerIdleTimeoutMs: v['worker-idle-timeout'],
    debugHandlers: v['enable-debugging-handlers'],
    logLevel: v['log-level'] as LogLevel,
  };
  return { config: Object.freeze(config), notices };
}
