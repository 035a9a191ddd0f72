// The API server through @kubernetes/client-node: one KubeConfig, the typed APIs kube-irsa calls
// (core: ServiceAccounts, ConfigMaps, Pods, Events, TokenRequest; custom objects: IRSACheck) and its
// Watch for streams. Errors keep the API server's status code and Status message (statusOf,
// describeKubeError); nothing here ever prints a credential.
import { ApiException, CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig, type KubeConfigOptions } from './config.ts';
import type { PooledKubeConfig } from './pooled-kube-config.ts';

export { KubeConfigError, type KubeConfigOptions } from './config.ts';

export interface KubeApi {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly watch: Watch;
  /** Closes the shared connections; stop the watches first. */
  close(): Promise<void>;
}

export function kubeApiFrom(config: KubeConfig | PooledKubeConfig): KubeApi {
  return {
    config, core: config.makeApiClient(CoreV1Api), custom: config.makeApiClient(CustomObjectsApi), watch: new Watch(config),
    close: async () => {
      if ('close' in config) await config.close();
    },
  };
}

export function loadKubeApi(opts: KubeConfigOptions): KubeApi {
  return kubeApiFrom(loadKubeConfig(opts));
}

/** The HTTP status of an API error (typed call or watch), when it has one. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The Status object's message from an ApiException's body (a JSON string), or ''. */
function statusMessage(body: unknown): string {
  if (typeof body !== 'string' || body === '') return '';
  try {
    const s = JSON.parse(body) as { message?: unknown };
    return typeof s.message === 'string' ? s.message : '';
  } catch {
    return body.slice(0, 200).trim();
  }
}

/** A short, token-free description of a client error for logs and people. */
export function describeKubeError(err: unknown): string {
  if (err instanceof ApiException) return `HTTP ${err.code}: ${statusMessage(err.body) || (err.code === 401 ? 'Unauthorized' : 'error')}`;
  const status = statusOf(err);
  if (status !== undefined) return `HTTP ${status}: ${(err as Error).message}`;
  const e = err as (NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) | null;
  // undici's fetch says only "fetch failed"; the reason (ECONNREFUSED, a certificate) is its cause
  const cause = e?.cause?.message ? `: ${e.cause.code && !e.cause.message.includes(e.cause.code) ? `${e.cause.code}: ` : ''}${e.cause.message}` : '';
  return e?.message ? `${e.code && !e.message.includes(e.code) ? `${e.code}: ` : ''}${e.message}${cause}` : String(err);
}
