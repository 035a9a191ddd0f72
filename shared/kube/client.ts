// Connecting to the API server the way the reference webhook's flags describe: --kubeconfig and
// --kube-api (either or both), else the in-cluster ServiceAccount, else a clear error.
import { ApiException, KubeConfig } from '@kubernetes/client-node';

export interface KubeConnectionOptions {
  /** --kubeconfig */
  readonly kubeconfig?: string;
  /** --kube-api: overrides the server of the kubeconfig's current cluster. */
  readonly kubeApi?: string;
  readonly env?: NodeJS.ProcessEnv;
}

export class KubeConnectionError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'KubeConnectionError';
  }
}

export function loadKubeConfig(opts: KubeConnectionOptions): KubeConfig {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  try {
    if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else if (opts.kubeApi) {
      kc.loadFromOptions({
        clusters: [{ name: 'kube-api', server: opts.kubeApi, skipTLSVerify: false }],
        users: [{ name: 'anonymous' }],
        contexts: [{ name: 'kube-api', cluster: 'kube-api', user: 'anonymous' }],
        currentContext: 'kube-api',
      });
    } else {
      throw new KubeConnectionError('no Kubernetes API server: pass --kubeconfig (or --kube-api), or run inside a cluster');
    }
  } catch (err) {
    if (err instanceof KubeConnectionError) throw err;
    throw new KubeConnectionError(`cannot load the Kubernetes client configuration${opts.kubeconfig ? ` from ${opts.kubeconfig}` : ''}: ${(err as Error).message}`, err);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeConnectionError(`the kubeconfig${opts.kubeconfig ? ` ${opts.kubeconfig}` : ''} has no current cluster`);
  if (opts.kubeApi && opts.kubeconfig) {
    kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: opts.kubeApi! } : c));
  }
  return shareConnections(kc);
}

/**
 * client-node 2.x builds a new undici Agent for every request, so every API call pays a TLS
 * handshake and leaves an idle socket behind. Reuse one connection pool per client configuration
 * (the TLS options only change with the kubeconfig; credentials are applied per request).
 */
export function shareConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher?: (cluster: unknown, options: unknown) => unknown };
  const original = target.createDispatcher?.bind(kc);
  if (!original) return kc;
  const pools = new Map<string, unknown>();
  target.createDispatcher = (cluster, options) => {
    const key = JSON.stringify([cluster, options]);
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = original(cluster, options);
      pools.set(key, pool);
    }
    return pool;
  };
  return kc;
}

/** The HTTP status of a client-node error, when it has one. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** A short, token-free description of a client error for logs. */
export function describeKubeError(err: unknown): string {
  const status = statusOf(err);
  if (err instanceof ApiException) {
    const body = err.body as { message?: string } | string | undefined;
    const message = typeof body === 'string' ? (tryMessage(body) ?? body.slice(0, 200)) : body?.message;
    return `HTTP ${status}${message ? `: ${message}` : ''}`;
  }
  return `${status ? `HTTP ${status}: ` : ''}${(err as Error)?.message ?? String(err)}`;
}

function tryMessage(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { message?: string }).message;
  } catch {
    return undefined;
  }
}
