// The precedence that decides which AWS identity a ServiceAccount gets: container-credentials
// association first, then the ServiceAccount's role annotation, then the mapping ConfigMap
// (`ns/name`, namespace globs, `*\/name`). Callers ask resolver.ts, which gathers these inputs;
// pod annotations are the mutation's business (they tune the token, never the role).
import type { IdentityDefaults, ServiceAccountIdentity } from './annotations.ts';
import type { IdentityMapping } from './config-map.ts';
import type { ContainerCredentialsConfig } from './container-credentials.ts';

export type IdentitySource = 'service-account' | 'config-map' | 'container-credentials';

export interface WebIdentity {
  readonly mode: 'web-identity';
  readonly roleArn: string;
  readonly audience: string;
  readonly stsRegionalEndpoints: boolean;
  readonly tokenExpirationSeconds: number;
  readonly injectRoleSessionName: boolean;
  readonly source: IdentitySource;
  /** e.g. the ConfigMap key that matched. */
  readonly sourceDetail: string | undefined;
  readonly warnings: readonly string[];
}

export interface ContainerCredentialsIdentity {
  readonly mode: 'container-credentials';
  readonly stsRegionalEndpoints: boolean;
  readonly tokenExpirationSeconds: number;
  readonly source: 'container-credentials';
  readonly sourceDetail: undefined;
  readonly warnings: readonly string[];
}

export type ResolvedIdentity = WebIdentity | ContainerCredentialsIdentity;

export interface ResolveInput {
  readonly namespace: string;
  readonly serviceAccountName: string;
  /** The ServiceAccount's parsed annotations; undefined when it is not known (not in the cache). */
  readonly serviceAccount: ServiceAccountIdentity | undefined;
  readonly mapping: IdentityMapping;
  readonly containerCredentials: ContainerCredentialsConfig;
  readonly defaults: IdentityDefaults;
}

export function resolveIdentity(input: ResolveInput): ResolvedIdentity | undefined {
  const { namespace, serviceAccountName: name, serviceAccount: sa, mapping, defaults } = input;
  if (input.containerCredentials.has(namespace, name)) {
    // STS and expiration: the ServiceAccount (annotation or flag), else the exact ConfigMap entry,
    // else the reference's fixed (false, 86400)
    const entry = sa ? undefined : mapping.lookupExact(namespace, name);
    return {
      mode: 'container-credentials',
      stsRegionalEndpoints: sa?.stsRegionalEndpoints ?? entry?.stsRegionalEndpoints ?? false,
      tokenExpirationSeconds: sa?.tokenExpirationSeconds ?? entry?.tokenExpirationSeconds ?? 86_400,
      source: 'container-credentials',
      sourceDetail: undefined,
      warnings: sa?.warnings ?? [],
    };
  }
  if (sa?.roleArn) {
    return {
      mode: 'web-identity', roleArn: sa.roleArn, audience: sa.audience, stsRegionalEndpoints: sa.stsRegionalEndpoints,
      tokenExpirationSeconds: sa.tokenExpirationSeconds, injectRoleSessionName: sa.roleSessionName,
      source: 'service-account', sourceDetail: undefined, warnings: sa.warnings,
    };
  }
  const entry = mapping.lookup(namespace, name);
  if (entry && entry.roleArn !== '') {
    return {
      mode: 'web-identity', roleArn: entry.roleArn, audience: entry.audience, stsRegionalEndpoints: entry.stsRegionalEndpoints,
      tokenExpirationSeconds: entry.tokenExpirationSeconds, injectRoleSessionName: sa?.roleSessionName ?? defaults.injectRoleSessionName,
      source: 'config-map', sourceDetail: entry.key, warnings: sa?.warnings ?? [],
    };
  }
  return undefined;
}
