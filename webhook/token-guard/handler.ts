// The token guard's admission handler: a CREATE of serviceaccounts/token by the agent (the
// ValidatingWebhookConfiguration's matchConditions send only the agent's user here) is turned into
// the facts decide.ts needs — the requester's node, the bound pod as it is now, the audiences the
// pod uses — and answered allowed or denied with the rule that refused it.
import { serviceAccountOf, type PodResolver } from '../../shared/identity/resolver.ts';
import { allow, deny, type AdmissionRequest, type AdmissionVerdict } from '../admission/review.ts';
import { isObject } from '../core/pod.ts';
import { decideTokenRequest, NODE_NAME_EXTRA, type BoundPod, type TokenDecision } from './decide.ts';

/** The fields of a Pod the guard reads (a GET of the bound pod). */
export interface GuardedPod {
  readonly metadata?: { readonly uid?: string; readonly labels?: unknown };
  readonly spec?: {
    readonly nodeName?: string;
    readonly serviceAccountName?: string;
    readonly volumes?: ReadonlyArray<{ readonly projected?: { readonly sources?: ReadonlyArray<{ readonly serviceAccountToken?: { readonly audience?: string } }> } }>;
  };
}

export interface TokenGuardDeps {
  /** The pod now, or undefined when it does not exist (other errors throw: the API server then fails closed). */
  getPod(namespace: string, name: string): Promise<GuardedPod | undefined>;
  readonly resolver: PodResolver;
}

export interface TokenGuardResult {
  readonly verdict: AdmissionVerdict;
  readonly decision: TokenDecision | undefined;
}

export async function guardTokenRequest(req: AdmissionRequest, deps: TokenGuardDeps): Promise<TokenGuardResult> {
  // only token creation is guarded; anything else sent here by a misconfiguration passes
  if (req.operation !== 'CREATE' || req.subResource !== 'token') return { verdict: allow(), decision: undefined };
  const namespace = req.namespace ?? '';
  const spec = isObject(req.object) && isObject(req.object.spec) ? req.object.spec : {};
  const ref = isObject(spec.boundObjectRef) ? spec.boundObjectRef : undefined;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const boundObject = ref ? { kind: str(ref.kind), name: str(ref.name), uid: str(ref.uid) } : undefined;
  const audiences = Array.isArray(spec.audiences) ? spec.audiences.filter((a): a is string => typeof a === 'string') : [];
  const review = { requesterNode: req.userInfo?.extra?.[NODE_NAME_EXTRA]?.[0], namespace, serviceAccount: req.name ?? '', audiences, boundObject };
  // the pod is read only when the rules that need no pod have passed
  const needsPod = review.requesterNode && boundObject?.kind === 'Pod' && boundObject.name && boundObject.uid;
  const pod = needsPod ? await deps.getPod(namespace, boundObject.name ?? '') : undefined;
  const decision = decideTokenRequest(review, pod ? await boundPodFacts(pod, namespace, deps.resolver) : undefined);
  return { verdict: decision.allowed ? allow() : deny(decision.message), decision };
}

/** The pod's own token audiences, plus the one its identity resolves to (a pod the webhook missed). */
async function boundPodFacts(pod: GuardedPod, namespace: string, resolver: PodResolver): Promise<BoundPod> {
  const audiences = new Set<string>();
  for (const v of pod.spec?.volumes ?? []) {
    for (const s of v.projected?.sources ?? []) {
      const a = s.serviceAccountToken?.audience;
      if (a) audiences.add(a);
    }
  }
  const resolved = await resolver.resolvePod(pod, namespace);
  if (resolved.identity?.mode === 'web-identity') audiences.add(resolved.identity.audience);
  return { uid: pod.metadata?.uid ?? '', nodeName: pod.spec?.nodeName, serviceAccountName: serviceAccountOf(pod), audiences: [...audiences] };
}
