// ServiceAccounts, parsed once when they arrive (not per admission), keyed `namespace/name`. A
// ServiceAccount missing from the cache (created just before its pod, or a watch lagging) is looked
// up live, bounded by the grace period, and concurrent admissions share one lookup.
import type { Logger } from 'pino';
import { annotationsUnderPrefix, parseServiceAccountAnnotations, type IdentityDefaults, type ServiceAccountIdentity } from './annotations.ts';
import { describeKubeError, statusOf, type KubeApi } from '../kube/api.ts';
import type { ServiceAccount } from '../kube/objects.ts';
import type { ReflectorHandlers } from '../kube/reflector.ts';

export type LookupOutcome = 'hit' | 'live-found' | 'live-not-found' | 'live-error' | 'live-timeout' | 'miss';

export interface ServiceAccountLookupResult {
  /** Undefined when the ServiceAccount could not be found (or not in time). */
  readonly identity: ServiceAccountIdentity | undefined;
  readonly outcome: LookupOutcome;
}

export interface ServiceAccountCacheOptions {
  readonly defaults: IdentityDefaults;
  /** Reads one ServiceAccount from the API server (404 → not found); undefined disables live lookups. */
  readonly read: ((namespace: string, name: string) => Promise<ServiceAccount>) | undefined;
  readonly gracePeriodMs: number;
  /**
   * Keep the ServiceAccounts without prefixed annotations that the watch delivers (default). The
   * webhook must (a miss there is a live lookup on the admission path); the agent does not: a
   * ServiceAccount its node's pods use is looked up once and kept, and the rest of a large cluster
   * costs it nothing (~150 bytes a ServiceAccount, 15 MiB at 100,000).
   */
  readonly keepPlain?: boolean;
  readonly logger: Logger;
  readonly onLookup?: (outcome: LookupOutcome) => void;
  readonly onSizeChange?: (size: number) => void;
}

/** Told of every change of the cache: an entry (undefined: removed), or all of them after a relist. */
export interface ServiceAccountCacheListener {
  entry(key: string, value: ServiceAccountIdentity | undefined): void;
  all(entries: ReadonlyMap<string, ServiceAccountIdentity>): void;
}

/** The fields the cache keeps of a ServiceAccount: its annotations under the prefix, nothing else. */
export type CompactServiceAccount = Readonly<Record<string, string>> | undefined;

export class ServiceAccountCache implements ReflectorHandlers<ServiceAccountIdentity> {
  private readonly entries = new Map<string, ServiceAccountIdentity>();
  private readonly inflight = new Map<string, Promise<ServiceAccountIdentity | undefined>>();
  private readonly opts: ServiceAccountCacheOptions;
  /** Shared by every ServiceAccount without prefixed annotations: most of a large cluster. */
  private readonly plain: ServiceAccountIdentity;
  /** Who mirrors this cache (the webhook's worker threads, through identity-relay.ts). */
  readonly listeners = new Set<ServiceAccountCacheListener>();

  constructor(opts: ServiceAccountCacheOptions) {
    this.opts = opts;
    this.plain = parseServiceAccountAnnotations(undefined, opts.defaults);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The reflector's transform: keep only what identity resolution reads. */
  readonly transform = (sa: ServiceAccount): ServiceAccountIdentity | undefined => {
    const identity = this.parse(sa);
    return identity === this.plain && this.opts.keepPlain === false ? undefined : identity;
  };

  parse(sa: ServiceAccount): ServiceAccountIdentity {
    const annotations = annotationsUnderPrefix(sa.metadata?.annotations, this.opts.defaults.annotationPrefix);
    if (!annotations) return this.plain;
    return parseServiceAccountAnnotations(annotations, this.opts.defaults, `ServiceAccount ${sa.metadata?.namespace ?? ''}/${sa.metadata?.name ?? ''}`);
  }

  replace(entries: ReadonlyMap<string, ServiceAccountIdentity>): void {
    this.entries.clear();
    for (const [k, v] of entries) this.entries.set(k, v);
    this.opts.onSizeChange?.(this.entries.size);
    for (const l of this.listeners) l.all(this.entries);
  }

  upsert(key: string, value: ServiceAccountIdentity): void {
    this.entries.set(key, value);
    this.opts.onSizeChange?.(this.entries.size);
    for (const l of this.listeners) l.entry(key, value);
  }

  remove(key: string): void {
    this.entries.delete(key);
    this.opts.onSizeChange?.(this.entries.size);
    for (const l of this.listeners) l.entry(key, undefined);
  }

  /** Every entry now (for a new listener). */
  snapshot(): ReadonlyMap<string, ServiceAccountIdentity> {
    return this.entries;
  }

  /** The cached entry only, no lookup (for the debug endpoint and tests). */
  peek(namespace: string, name: string): ServiceAccountIdentity | undefined {
    return this.entries.get(`${namespace}/${name}`);
  }

  /**
   * The ServiceAccount's identity: from the cache, else looked up live. `fresh` looks it up live even
   * when cached (to confirm a surprising answer against a watch that may lag); if that lookup fails
   * the cached entry still answers.
   */
  async get(namespace: string, name: string, fresh = false): Promise<ServiceAccountLookupResult> {
    const key = `${namespace}/${name}`;
    const cached = this.entries.get(key);
    if (cached && !fresh) return this.report({ identity: cached, outcome: 'hit' });
    const read = this.opts.read;
    if (!read || this.opts.gracePeriodMs <= 0 || name === '') return this.report({ identity: cached, outcome: cached ? 'hit' : 'miss' });

    let lookup = this.inflight.get(key);
    let outcome: LookupOutcome = 'live-found';
    if (!lookup) {
      lookup = read(namespace, name).then(
        (sa) => {
          const identity = this.parse(sa);
          // the watch may have delivered it meanwhile; either is current enough, unless asked to refresh
          if (fresh || !this.entries.has(key)) this.upsert(key, identity);
          return identity;
        },
        (err: unknown) => {
          if (statusOf(err) === 404) return undefined;
          this.opts.logger.warn({ serviceAccount: key, err: describeKubeError(err) }, 'live ServiceAccount lookup failed');
          throw err;
        },
      ).finally(() => this.inflight.delete(key));
      this.inflight.set(key, lookup);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.opts.gracePeriodMs);
    });
    try {
      const result = await Promise.race([lookup, timeout]);
      if (result === 'timeout') return this.report({ identity: cached, outcome: 'live-timeout' });
      if (result === undefined) outcome = 'live-not-found';
      return this.report({ identity: result, outcome });
    } catch {
      return this.report({ identity: cached, outcome: 'live-error' });
    } finally {
      clearTimeout(timer);
    }
  }

  private report(r: ServiceAccountLookupResult): ServiceAccountLookupResult {
    this.opts.onLookup?.(r.outcome);
    return r;
  }
}

/** The live lookup of ServiceAccountCacheOptions.read through the API. */
export const readServiceAccount = (api: KubeApi) => (namespace: string, name: string): Promise<ServiceAccount> =>
  api.core.readNamespacedServiceAccount({ namespace, name });
