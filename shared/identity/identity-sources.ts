// Everything that decides a pod's identity, watched: all ServiceAccounts through ONE watch (kept as
// parsed annotations only, shared by the many without any), the mapping ConfigMap, and the
// container-credentials associations; together they make the IdentityResolver. The webhook and the
// agent both build theirs here, so they resolve identically.
import type { Logger } from 'pino';
import type { KubeApi } from '../kube/api.ts';
import { corePath, type ConfigMap, type ServiceAccount } from '../kube/objects.ts';
import { createReflector, type Reflector } from '../kube/reflector.ts';
import type { IdentityDefaults, ServiceAccountIdentity } from './annotations.ts';
import { ContainerCredentialsSource } from './container-credentials-source.ts';
import type { SourceEvent } from './kept-config.ts';
import { MAPPING_CONFIG_MAP_NAME } from './config-map.ts';
import { MappingSource } from './mapping-source.ts';
import { IdentityResolver } from './resolver.ts';
import { readServiceAccount, ServiceAccountCache, type LookupOutcome } from './service-account-cache.ts';

export interface IdentitySourcesOptions {
  readonly api: KubeApi;
  readonly defaults: IdentityDefaults;
  /** Watch the `pod-identity-webhook` ConfigMap in configMapNamespace. */
  readonly watchConfigMap: boolean;
  readonly configMapNamespace: string;
  /** The container-credentials associations file ('' for none). */
  readonly containerCredentialsFile: string;
  /** How long a resolution waits for a live lookup of a ServiceAccount the watch has not delivered. */
  readonly lookupGracePeriodMs: number;
  /** Cache the ServiceAccounts without a role the watch delivers (ServiceAccountCacheOptions.keepPlain). */
  readonly keepPlainServiceAccounts?: boolean;
  readonly logger: Logger;
  readonly onLookup?: (outcome: LookupOutcome) => void;
  readonly onCacheSize?: (size: number) => void;
  readonly onMappingEvent?: (e: SourceEvent) => void;
  readonly onCredentialsEvent?: (e: SourceEvent) => void;
  /** The ServiceAccount `namespace/name` was added, changed or removed by the watch. */
  readonly onServiceAccount?: (namespace: string, name: string) => void;
  /** Every ServiceAccount was listed again. */
  readonly onRelist?: () => void;
}

const split = (key: string): [string, string] => {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
};

export class IdentitySources {
  readonly resolver: IdentityResolver;
  readonly serviceAccounts: ServiceAccountCache;
  readonly mapping: MappingSource;
  private readonly containerCredentials: ContainerCredentialsSource | undefined;
  private readonly saReflector: Reflector;
  private readonly cmReflector: Reflector | undefined;

  constructor(opts: IdentitySourcesOptions) {
    const { api, defaults, logger } = opts;
    const cache = new ServiceAccountCache({
      defaults, read: readServiceAccount(api), gracePeriodMs: opts.lookupGracePeriodMs, logger, keepPlain: opts.keepPlainServiceAccounts ?? true,
      ...(opts.onLookup ? { onLookup: opts.onLookup } : {}), ...(opts.onCacheSize ? { onSizeChange: opts.onCacheSize } : {}),
    });
    this.serviceAccounts = cache;
    this.saReflector = createReflector<ServiceAccount, ServiceAccountIdentity>({
      api, resource: 'serviceaccounts', logger, transform: cache.transform,
      list: (r) => api.core.listServiceAccountForAllNamespaces(r), watchPath: corePath('serviceaccounts'),
      handlers: {
        replace: (entries) => {
          cache.replace(entries);
          opts.onRelist?.();
        },
        upsert: (key, value) => {
          cache.upsert(key, value);
          opts.onServiceAccount?.(...split(key));
        },
        remove: (key) => {
          cache.remove(key);
          opts.onServiceAccount?.(...split(key));
        },
      },
    });
    this.mapping = new MappingSource({ defaults, logger, ...(opts.onMappingEvent ? { onEvent: opts.onMappingEvent } : {}) });
    this.cmReflector = opts.watchConfigMap ? mappingReflector(this.mapping, api, opts.configMapNamespace, logger) : undefined;
    this.containerCredentials = opts.containerCredentialsFile
      ? new ContainerCredentialsSource({ file: opts.containerCredentialsFile, logger, ...(opts.onCredentialsEvent ? { onEvent: opts.onCredentialsEvent } : {}) })
      : undefined;
    const associations = this.containerCredentials;
    const mapping = this.mapping;
    this.resolver = new IdentityResolver({
      serviceAccounts: cache, defaults, mapping: () => mapping.current,
      ...(associations ? { containerCredentials: () => associations.current } : {}),
    });
  }

  get hasContainerCredentials(): boolean {
    return this.containerCredentials !== undefined;
  }

  /** Reads the associations file (before serving: a broken file is said at start). */
  async startFiles(): Promise<void> {
    await this.containerCredentials?.start();
  }

  /** Starts every watch and waits until each has listed once. */
  async startWatches(): Promise<void> {
    await Promise.all([this.cmReflector?.start(), this.saReflector.start()]);
  }

  /** Why resolution is not ready yet, or undefined when every watch has listed once. */
  get notSynced(): string | undefined {
    if (!this.saReflector.synced) return 'ServiceAccount cache not synced';
    if (this.cmReflector && !this.cmReflector.synced) return 'mapping ConfigMap not synced';
    return undefined;
  }

  stop(): void {
    this.saReflector.stop();
    this.cmReflector?.stop();
    this.containerCredentials?.close();
  }
}

/** A reflector that feeds `mapping` from the one mapping ConfigMap in `namespace` (not started). */
function mappingReflector(mapping: MappingSource, api: KubeApi, namespace: string, logger: Logger): Reflector {
  return createReflector<ConfigMap, string>({
    api, resource: 'configmaps', list: (r) => api.core.listNamespacedConfigMap({ namespace, ...r }), watchPath: corePath('namespaces', namespace, 'configmaps'),
    fieldSelector: `metadata.name=${MAPPING_CONFIG_MAP_NAME}`, logger, transform: mapping.transform, handlers: mapping,
  });
}
