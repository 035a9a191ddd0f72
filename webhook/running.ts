// What a started webhook is, for its starters: main.ts (one thread) and workers.ts (--workers),
// which must not import each other.
import type { Registry } from 'prom-client';
import type { ServiceAccountCache } from '../shared/identity/service-account-cache.ts';

export interface RunningWebhook {
  readonly port: number;
  readonly metricsPort: number;
  readonly serviceAccounts: ServiceAccountCache;
  /** This webhook's metrics (a worker thread's go to the main thread on request). */
  readonly registry: Registry;
  isReady(): boolean;
  /** Stops accepting, lets in-flight admissions finish (up to the grace period), then stops. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly random?: () => number;
  /**
   * One of the threads of --workers (the main thread's own webhook too): it shares the admission
   * port with the others and serves no /metrics (workers.ts does, with the process metrics).
   */
  readonly thread?: boolean;
}
