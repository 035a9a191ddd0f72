// The mutation, as a pure function: pod + resolved identity + settings → JSON Patch. It adds only
// what is missing (env entries, a mount, the token volume, a label, an annotation) with small `add`
// operations and never re-serialises a container, so fields it does not know survive, and a second
// pass over its own output yields an empty patch (`reinvocationPolicy: IfNeeded`).
//
// Which variables each container gets follows amazon-eks-pod-identity-webhook exactly:
//   AWS_STS_REGIONAL_ENDPOINTS, AWS_DEFAULT_REGION + AWS_REGION, then AWS_ROLE_ARN +
//   AWS_WEB_IDENTITY_TOKEN_FILE (or the container-credentials pair), each group skipped when any of
//   its variables is already set, and a container that has all three groups is left alone.
import { posix } from 'node:path';
import { DEFAULT_TOKEN_EXPIRATION_SECONDS } from '../../shared/identity/annotations.ts';
import { ENV, INJECTED_ANNOTATION, injectedRecord, POD_IDENTITY_LABEL, type InjectedRecord } from '../../shared/identity/injection.ts';
import type { ResolvedIdentity } from '../../shared/identity/resolve.ts';
import { envNames, isObject, isWindowsPod, listOf, type ContainerLike, type PodLike } from './pod.ts';
import type { PodOverrides } from './pod-overrides.ts';
import { roleSessionNameFor } from './session-name.ts';

export interface JsonPatchOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

export interface TokenVolumeSettings {
  readonly volumeName: string;
  readonly mountPath: string;
  /** File name inside the volume. */
  readonly tokenPath: string;
}

export interface MutationSettings {
  readonly annotationPrefix: string;
  /** --aws-default-region; empty: no region variables. */
  readonly region: string;
  readonly webIdentity: TokenVolumeSettings;
  readonly containerCredentials: TokenVolumeSettings & { readonly audience: string; readonly fullUri: string };
  /** Uniform in [0, 1); injectable so the expiration jitter is testable. */
  readonly random: () => number;
}

export interface MutationRequest {
  readonly pod: PodLike;
  /** The resolved identity with the pod's own annotations applied (applyPodOverrides). */
  readonly overrides: PodOverrides;
  /** The AdmissionRequest's name (the pod may only have generateName) and uid. */
  readonly requestName?: string;
  readonly requestUid?: string;
}

export interface MutationResult {
  readonly patch: readonly JsonPatchOperation[];
  readonly warnings: readonly string[];
  /** What the pod now carries, as written to the injected annotation. */
  readonly injected: InjectedRecord;
}

// container-credentials mode jitters the default 24 h expiration into [22 h, 24 h] so that pods
// started together do not refresh together (the reference does the same)
const JITTER_FLOOR_SECONDS = 79_200;

/** RFC 6901: `~` and `/` are escaped inside a path segment. */
export function pointerSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function tokenFilePath(settings: TokenVolumeSettings, windows: boolean): string {
  const unix = posix.join(settings.mountPath, settings.tokenPath);
  return windows ? `C:${unix.replace(/\//g, '\\')}` : unix;
}

function tokenExpiration(identity: ResolvedIdentity, settings: MutationSettings): number {
  const seconds = identity.tokenExpirationSeconds;
  if (identity.mode === 'container-credentials' && seconds === DEFAULT_TOKEN_EXPIRATION_SECONDS) {
    return JITTER_FLOOR_SECONDS + Math.floor(settings.random() * (DEFAULT_TOKEN_EXPIRATION_SECONDS - JITTER_FLOOR_SECONDS + 1));
  }
  return seconds;
}

/** The env entries a container lacks, in the reference's order; undefined: leave it alone. */
function missingEnv(container: ContainerLike, identity: ResolvedIdentity, settings: MutationSettings, tokenFile: string, sessionName: string | undefined): Array<{ name: string; value: string }> | undefined {
  const names = envNames(container);
  const modeKeys = identity.mode === 'web-identity'
    ? names.has(ENV.roleArn) || names.has(ENV.webIdentityTokenFile)
    : names.has(ENV.containerCredentialsFullUri) || names.has(ENV.containerAuthorizationTokenFile);
  const regionKey = names.has(ENV.region) || names.has(ENV.defaultRegion);
  const stsKey = names.has(ENV.stsRegionalEndpoints);
  if (modeKeys && regionKey && stsKey) return undefined;

  const env: Array<{ name: string; value: string }> = [];
  if (!stsKey && identity.stsRegionalEndpoints) env.push({ name: ENV.stsRegionalEndpoints, value: 'regional' });
  if (!regionKey && settings.region !== '') {
    env.push({ name: ENV.defaultRegion, value: settings.region }, { name: ENV.region, value: settings.region });
  }
  if (!modeKeys) {
    if (identity.mode === 'web-identity') {
      env.push({ name: ENV.roleArn, value: identity.roleArn }, { name: ENV.webIdentityTokenFile, value: tokenFile });
    } else {
      env.push({ name: ENV.containerCredentialsFullUri, value: settings.containerCredentials.fullUri },
        { name: ENV.containerAuthorizationTokenFile, value: tokenFile });
    }
  }
  if (sessionName !== undefined && !names.has(ENV.roleSessionName)) env.push({ name: ENV.roleSessionName, value: sessionName });
  return env;
}

function addToList(patch: JsonPatchOperation[], listPath: string, existing: unknown, items: readonly unknown[]): void {
  if (items.length === 0) return;
  if (!Array.isArray(existing)) {
    patch.push({ op: 'add', path: listPath, value: [...items] });
  } else {
    for (const item of items) patch.push({ op: 'add', path: `${listPath}/-`, value: item });
  }
}

/** Adds `key: value` to a string map (labels, annotations) unless it already holds exactly that. */
function addToMap(patch: JsonPatchOperation[], mapPath: string, existing: Readonly<Record<string, unknown>> | null | undefined, key: string, value: string): void {
  if (!isObject(existing)) patch.push({ op: 'add', path: mapPath, value: { [key]: value } });
  else if (existing[key] !== value) patch.push({ op: 'add', path: `${mapPath}/${pointerSegment(key)}`, value });
}

export function buildPodPatch(req: MutationRequest, settings: MutationSettings): MutationResult {
  const { pod, overrides } = req;
  const { identity } = overrides;
  const warnings: string[] = [...identity.warnings, ...overrides.warnings];
  const patch: JsonPatchOperation[] = [];
  const volume = identity.mode === 'web-identity' ? settings.webIdentity : settings.containerCredentials;
  const audience = identity.mode === 'web-identity' ? identity.audience : settings.containerCredentials.audience;
  const windows = isWindowsPod(pod);
  const tokenFile = tokenFilePath(volume, windows);
  const expirationSeconds = tokenExpiration(identity, settings);

  const injected = injectedRecord(identity, audience);

  if (!isObject(pod.metadata)) {
    // the API server always sends metadata; a raw object without it still gets a valid patch
    patch.push({
      op: 'add', path: '/metadata',
      value: { annotations: { [INJECTED_ANNOTATION]: JSON.stringify(injected) }, ...(identity.mode === 'container-credentials' ? { labels: { [POD_IDENTITY_LABEL]: 'enabled' } } : {}) },
    });
  } else {
    if (identity.mode === 'container-credentials') addToMap(patch, '/metadata/labels', pod.metadata.labels, POD_IDENTITY_LABEL, 'enabled');
    addToMap(patch, '/metadata/annotations', pod.metadata.annotations, INJECTED_ANNOTATION, JSON.stringify(injected));
  }

  const volumes = pod.spec?.volumes;
  if (!listOf(volumes).some((v) => v?.name === volume.volumeName)) {
    const value = {
      name: volume.volumeName,
      projected: { sources: [{ serviceAccountToken: { audience, expirationSeconds, path: volume.tokenPath } }] },
    };
    // prepended, as the reference does, so both produce the same pod
    patch.push(Array.isArray(volumes) ? { op: 'add', path: '/spec/volumes/0', value } : { op: 'add', path: '/spec/volumes', value: [value] });
  }

  const skip = overrides.skipContainers;

  const sessionName = identity.mode === 'web-identity' && identity.injectRoleSessionName
    ? roleSessionNameFor(pod, req.requestName, req.requestUid)
    : undefined;

  const known = new Set<string>();
  for (const field of ['initContainers', 'containers'] as const) {
    listOf(pod.spec?.[field]).forEach((container: ContainerLike, i) => {
      // raw JSON can hold anything; only objects are containers (the API server rejects the rest)
      if (!isObject(container)) return;
      if (typeof container.name === 'string') known.add(container.name);
      if (typeof container.name === 'string' && skip.has(container.name)) return;
      const env = missingEnv(container, identity, settings, tokenFile, sessionName);
      if (env === undefined) return;
      const base = `/spec/${field}/${i}`;
      addToList(patch, `${base}/env`, container.env, env);
      const mounts = container.volumeMounts;
      if (!listOf(mounts).some((m) => m?.name === volume.volumeName)) {
        addToList(patch, `${base}/volumeMounts`, mounts, [{ name: volume.volumeName, readOnly: true, mountPath: volume.mountPath }]);
      }
    });
  }
  const unknown = [...skip].filter((n) => !known.has(n));
  if (unknown.length > 0) warnings.push(`pod annotation ${overrides.skipAnnotation} names containers this pod does not have: ${unknown.join(', ')}`);

  return { patch, warnings, injected };
}
