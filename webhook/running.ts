// What a started webhook is, for its starters: main.ts (one thread), serve.ts (any thread) and
// workers.ts (--workers), which must not import each other.
import type { Registry } from 'prom-client';
import type { PodResolver } from '../shared/identity/resolver.ts';
import type { IdentitySources } from '../shared/identity/identity-sources.ts';
import type { ServiceAccountCache } from '../shared/identity/service-account-cache.ts';
import type { ConnectionShedding } from './connection-shedding.ts';
import type { GuardedPod } from './token-guard/handler.ts';

/** What admissions ask of identity: the pod's, the bound pod now (token guard), whether it is synced. */
export interface IdentityService {
  readonly resolver: PodResolver;
  /** The pod now, or undefined when it does not exist. */
  getPod(namespace: string, name: string): Promise<GuardedPod | undefined>;
  /** Why identities cannot be resolved yet (caches not synced), or undefined. */
  notReady(): string | undefined;
}

export interface ServingWebhook {
  readonly port: number;
  readonly metricsPort: number;
  /** This thread's metrics (a worker thread's go to the main thread on request). */
  readonly registry: Registry;
  /** This thread's admission connections, some of which workers.ts may move to other threads (with shedsConnections). */
  readonly connections: ConnectionShedding | undefined;
  isReady(): boolean;
  /** Stops accepting, lets in-flight admissions finish (up to the grace period), then stops. */
  stop(): Promise<void>;
}


/** The webhook of the thread that holds the API client and the caches. */
export interface RunningWebhook extends ServingWebhook {
  readonly serviceAccounts: ServiceAccountCache;
  /** What the worker threads of --workers mirror and ask (identity-relay.ts). */
  readonly identity: IdentityService;
  readonly sources: IdentitySources;
}

export interface StartOptions {
  readonly random?: () => number;
  /**
   * One of the threads of --workers (the main thread's own webhook too): it shares the admission
   * port with the others and serves no /metrics (workers.ts does, with the process metrics).
   */
  readonly thread?: boolean;
  /** The main thread under --workers: it may close keep-alive connections so that clients move to other threads. */
  readonly shedsConnections?: boolean;
}
