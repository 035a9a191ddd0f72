// One admission, from decoded request to response, without HTTP: only Pod CREATE is mutated
// (dry runs included, since the webhook has no side effects); everything else passes untouched.
// The same function serves the HTTP webhook and `kube-irsa mutate`.
import type { Logger } from 'pino';
import type { ResolvedIdentity } from '../../shared/identity/resolve.ts';
import type { PodResolver } from '../../shared/identity/resolver.ts';
import { buildPodPatch, type MutationSettings } from '../core/patch.ts';
import { isObject, type PodLike } from '../core/pod.ts';
import { applyPodOverrides } from '../core/pod-overrides.ts';
import { podShapeProblem } from '../core/pod-shape.ts';
import type { LookupOutcome } from '../../shared/identity/service-account-cache.ts';
import { allow, deny, type AdmissionRequest, type AdmissionVerdict } from './review.ts';

export type AdmissionOutcome = 'mutated' | 'unchanged' | 'no-identity' | 'not-a-pod-create' | 'rejected';

export interface AdmissionDeps {
  /** The one identity resolver the agent and the CLI ask too. */
  readonly resolver: PodResolver;
  readonly settings: MutationSettings;
}

export interface AdmissionResult {
  /** What to answer, not yet encoded (the HTTP edge and `mutate` encode or print it). */
  readonly verdict: AdmissionVerdict;
  readonly outcome: AdmissionOutcome;
  readonly identity: ResolvedIdentity | undefined;
  readonly lookup: LookupOutcome | undefined;
  readonly serviceAccount: string | undefined;
}

function isPodCreate(req: AdmissionRequest): boolean {
  return req.operation === 'CREATE' && req.kind?.kind === 'Pod' && (req.kind.group ?? '') === '' && (req.subResource ?? '') === '';
}

export async function admit(req: AdmissionRequest, deps: AdmissionDeps): Promise<AdmissionResult> {
  const base = { identity: undefined, lookup: undefined, serviceAccount: undefined };
  if (!isPodCreate(req)) return { ...base, verdict: allow(), outcome: 'not-a-pod-create' };
  const problem = podShapeProblem(req.object);
  if (problem) return { ...base, verdict: deny(`cannot read request.object as a Pod: ${problem}`), outcome: 'rejected' };
  const pod = req.object as PodLike;
  // the namespace of the request is authoritative (the object may not carry one yet)
  const namespace = req.namespace ?? (typeof pod.metadata?.namespace === 'string' ? pod.metadata.namespace : '');
  const resolution = await deps.resolver.resolvePod(pod, namespace);
  const { identity, lookup } = resolution;
  const serviceAccount = `${namespace}/${resolution.serviceAccount}`;
  if (!identity) return { verdict: allow(), outcome: 'no-identity', identity, lookup, serviceAccount };
  const overrides = applyPodOverrides(pod, identity, deps.settings.annotationPrefix);
  const result = buildPodPatch({ pod, overrides, ...(req.name !== undefined ? { requestName: req.name } : {}), requestUid: req.uid }, deps.settings);
  if (result.patch.length === 0) {
    return { verdict: allow([], result.warnings), outcome: 'unchanged', identity, lookup, serviceAccount };
  }
  return { verdict: allow(result.patch, result.warnings), outcome: 'mutated', identity, lookup, serviceAccount };
}

/** Fields for the per-request log line; never the object itself. */
export function requestLogFields(req: AdmissionRequest): Record<string, unknown> {
  const meta = isObject(req.object) ? (req.object as PodLike).metadata : undefined;
  return {
    uid: req.uid, namespace: req.namespace, operation: req.operation, kind: req.kind?.kind, dryRun: req.dryRun,
    pod: req.name || (typeof meta?.name === 'string' ? meta.name : undefined) || (typeof meta?.generateName === 'string' ? `${meta.generateName}*` : undefined),
  };
}

export type { Logger };
