// The one answer to "which AWS identity does this pod get, and in which mode", for the webhook, the
// agent, `doctor` and `mutate` alike. The resolver holds every input that decides it (the
// ServiceAccounts, the mapping ConfigMap, the container-credentials associations and the identity
// flags), so no caller gathers them by hand and none can forget one.
import type { IdentityDefaults } from './annotations.ts';
import { IdentityMapping } from './config-map.ts';
import { ContainerCredentialsConfig } from './container-credentials.ts';
import { SKIP_LABEL } from './injection.ts';
import { resolveIdentity, type ResolvedIdentity } from './resolve.ts';
import type { LookupOutcome, ServiceAccountCache } from './service-account-cache.ts';

/** The parts of a pod its identity depends on; raw admission objects and the agent's compact pods both fit. */
export interface PodIdentityFields {
  readonly metadata?: { readonly labels?: unknown } | null;
  readonly spec?: { readonly serviceAccountName?: unknown } | null;
}

/** The ServiceAccount a pod runs as: an empty or missing name is `default`, as the API server sets it. */
export function serviceAccountOf(pod: PodIdentityFields): string {
  const name = pod.spec?.serviceAccountName;
  return typeof name === 'string' && name !== '' ? name : 'default';
}

/** The pod opted out with SKIP_LABEL. */
export function skipsIdentity(pod: PodIdentityFields): boolean {
  const labels = pod.metadata?.labels;
  return typeof labels === 'object' && labels !== null && !Array.isArray(labels) && Object.hasOwn(labels, SKIP_LABEL);
}

export interface Resolution {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Undefined: the ServiceAccount has no AWS identity (or is not known), or the pod opted out. */
  readonly identity: ResolvedIdentity | undefined;
  /** How the ServiceAccount was found; undefined when it was not looked up (the pod opted out). */
  readonly lookup: LookupOutcome | undefined;
}

export interface IdentityResolverOptions {
  readonly serviceAccounts: Pick<ServiceAccountCache, 'get' | 'peek'>;
  readonly defaults: IdentityDefaults;
  /** The mapping in force now (a live source's `current`); none: no mappings. */
  readonly mapping?: () => IdentityMapping;
  /** The container-credentials associations in force now; none: the mode is off. */
  readonly containerCredentials?: () => ContainerCredentialsConfig;
}

/** What admission needs of a resolver: the pod's identity (the webhook's worker threads ask the main thread's). */
export type PodResolver = Pick<IdentityResolver, 'resolvePod'>;

export class IdentityResolver {
  private readonly opts: IdentityResolverOptions;

  constructor(opts: IdentityResolverOptions) {
    this.opts = opts;
  }

  /**
   * The identity of `namespace/name`, looking the ServiceAccount up live when it is not cached.
   * `fresh` looks it up live even when cached, to confirm a surprising answer against a lagging watch.
   */
  async resolve(namespace: string, name: string, opts: { fresh?: boolean } = {}): Promise<Resolution> {
    const { identity: sa, outcome } = await this.opts.serviceAccounts.get(namespace, name, opts.fresh ?? false);
    return { namespace, serviceAccount: name, identity: this.decide(namespace, name, sa), lookup: outcome };
  }

  /** The identity of the pod in `namespace` (the admission request's namespace is authoritative). */
  resolvePod(pod: PodIdentityFields, namespace: string, opts: { fresh?: boolean } = {}): Promise<Resolution> {
    const name = serviceAccountOf(pod);
    if (skipsIdentity(pod)) return Promise.resolve({ namespace, serviceAccount: name, identity: undefined, lookup: undefined });
    return this.resolve(namespace, name, opts);
  }

  /** From what is cached only, without a lookup: for noticing a ServiceAccount that lost its identity. */
  resolveCached(namespace: string, name: string): ResolvedIdentity | undefined {
    const sa = this.opts.serviceAccounts.peek(namespace, name);
    return sa ? this.decide(namespace, name, sa) : undefined;
  }

  private decide(namespace: string, name: string, serviceAccount: ReturnType<ServiceAccountCache['peek']>): ResolvedIdentity | undefined {
    return resolveIdentity({
      namespace, serviceAccountName: name, serviceAccount, defaults: this.opts.defaults,
      mapping: this.opts.mapping?.() ?? IdentityMapping.empty,
      containerCredentials: this.opts.containerCredentials?.() ?? ContainerCredentialsConfig.empty,
    });
  }
}
