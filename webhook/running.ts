// What a started webhook is, for its starters: main.ts (one thread) and workers.ts (--workers),
// which must not import each other.
import type { ServiceAccountCache } from '../shared/identity/service-account-cache.ts';
import type { IdentityService, ServingWebhook } from './serve.ts';

/** The webhook of the thread that holds the API client and the caches. */
export interface RunningWebhook extends ServingWebhook {
  readonly serviceAccounts: ServiceAccountCache;
  /** What the worker threads of --workers admit through (identity-relay.ts). */
  readonly identity: IdentityService;
}

export interface StartOptions {
  readonly random?: () => number;
  /**
   * One of the threads of --workers (the main thread's own webhook too): it shares the admission
   * port with the others and serves no /metrics (workers.ts does, with the process metrics).
   */
  readonly thread?: boolean;
}
