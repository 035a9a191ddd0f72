// Everything that decides a pod's identity, as the agent watches it: all ServiceAccounts through ONE
// watch (kept as parsed annotations only, shared by the many without any), the mapping ConfigMap,
// and the container-credentials associations; together they make the shared IdentityResolver. A
// fixed number of watches per agent, however many namespaces its pods come from.
import type { Logger } from 'pino';
import { ContainerCredentialsSource } from '../../shared/identity/container-credentials-source.ts';
import { MappingSource } from '../../shared/identity/mapping-source.ts';
import { IdentityResolver } from '../../shared/identity/resolver.ts';
import { readServiceAccount, ServiceAccountCache } from '../../shared/identity/service-account-cache.ts';
import type { KubeClient } from '../../shared/kube/client.ts';
import { corePath } from '../../shared/kube/objects.ts';
import { createReflector, type Reflector } from '../../shared/kube/reflector.ts';
import type { AgentConfig } from '../config.ts';

/** How long a pod check waits for a live ServiceAccount lookup when the watch has not delivered it. */
const SERVICE_ACCOUNT_LOOKUP_MS = 5_000;

export interface IdentityInputsHandlers {
  /** The ServiceAccount `namespace/name` was added, changed or removed. */
  readonly serviceAccount: (namespace: string, name: string) => void;
  /** Every ServiceAccount was listed again, or the mapping or the associations changed: any pod may resolve differently. */
  readonly all: () => void;
}

const split = (key: string): [string, string] => {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
};

export class IdentityInputs {
  readonly resolver: IdentityResolver;
  private readonly mapping: MappingSource;
  private readonly containerCredentials: ContainerCredentialsSource | undefined;
  private readonly saReflector: Reflector;
  private readonly cmReflector: Reflector | undefined;

  constructor(opts: { config: AgentConfig; client: KubeClient; logger: Logger; handlers: IdentityInputsHandlers }) {
    const { config, client, logger, handlers } = opts;
    // live lookups cover a watch that lags (or is resuming) behind the pods that name a ServiceAccount
    const cache = new ServiceAccountCache({ defaults: config.identity, read: readServiceAccount(client), gracePeriodMs: SERVICE_ACCOUNT_LOOKUP_MS, logger });
    this.saReflector = createReflector({
      client, resource: 'serviceaccounts', path: corePath('serviceaccounts'), logger, transform: cache.transform,
      handlers: {
        replace: (entries) => {
          cache.replace(entries);
          handlers.all();
        },
        upsert: (key, value) => {
          cache.upsert(key, value);
          handlers.serviceAccount(...split(key));
        },
        remove: (key) => {
          cache.remove(key);
          handlers.serviceAccount(...split(key));
        },
      },
    });
    this.mapping = new MappingSource({ defaults: config.identity, logger, onEvent: () => handlers.all() });
    this.cmReflector = config.watchConfigMap ? this.mapping.reflector({ client, namespace: config.configMapNamespace }) : undefined;
    this.containerCredentials = config.containerCredentialsFile
      ? new ContainerCredentialsSource({ file: config.containerCredentialsFile, logger, onEvent: () => handlers.all() })
      : undefined;
    const associations = this.containerCredentials;
    this.resolver = new IdentityResolver({
      serviceAccounts: cache, defaults: config.identity, mapping: () => this.mapping.current,
      ...(associations ? { containerCredentials: () => associations.current } : {}),
    });
  }

  /** Starts every watch and waits until each has listed once. */
  async start(): Promise<void> {
    await this.containerCredentials?.start();
    await Promise.all([this.cmReflector?.start(), this.saReflector.start()]);
  }

  get synced(): boolean {
    return this.saReflector.synced && (!this.cmReflector || this.cmReflector.synced);
  }

  stop(): void {
    this.saReflector.stop();
    this.cmReflector?.stop();
    this.containerCredentials?.close();
  }
}
