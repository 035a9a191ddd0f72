// What a pod's own annotations change about its mutation, decided before the patch is built: the
// token expiration (`<prefix>/token-expiration`, above the ServiceAccount and the flag) and the
// containers to leave alone (`<prefix>/skip-containers`). Precedence lives here and nowhere else.
import { annotationKey, ANNOTATION_SUFFIX, clampTokenExpiration, parseGoInt } from '../../shared/identity/annotations.ts';
import type { ResolvedIdentity } from '../../shared/identity/resolve.ts';
import type { PodLike } from './pod.ts';
import { parseSkipContainers } from './skip-containers.ts';

export interface PodOverrides {
  /** The identity with the pod's expiration applied. */
  readonly identity: ResolvedIdentity;
  readonly skipContainers: ReadonlySet<string>;
  /** The annotation that named them (for warnings about names the pod does not have). */
  readonly skipAnnotation: string;
  readonly warnings: readonly string[];
}

export function applyPodOverrides(pod: PodLike, identity: ResolvedIdentity, annotationPrefix: string): PodOverrides {
  const warnings: string[] = [];
  const annotations = pod.metadata?.annotations;
  let seconds = identity.tokenExpirationSeconds;
  const expirationKey = annotationKey(annotationPrefix, ANNOTATION_SUFFIX.tokenExpiration);
  const podValue = annotations?.[expirationKey];
  if (typeof podValue === 'string') {
    const parsed = parseGoInt(podValue);
    if (parsed === undefined) warnings.push(`pod annotation ${expirationKey} "${podValue}" is not a whole number of seconds; using ${seconds}`);
    else seconds = clampTokenExpiration(parsed, `pod annotation ${expirationKey}`, warnings);
  }
  const skipKey = annotationKey(annotationPrefix, ANNOTATION_SUFFIX.skipContainers);
  const skipText = annotations?.[skipKey];
  const skip = typeof skipText === 'string' ? parseSkipContainers(skipText) : { names: new Set<string>(), error: undefined };
  if (skip.error) warnings.push(`pod annotation ${skipKey} "${String(skipText)}" could not be read (${skip.error}); no container is skipped`);
  return { identity: { ...identity, tokenExpirationSeconds: seconds }, skipContainers: skip.names, skipAnnotation: skipKey, warnings };
}
