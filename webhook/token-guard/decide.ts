// Node restriction for the agent's TokenRequests: the pure decision. In token-request mode every
// agent pod runs as one ServiceAccount that may create serviceaccounts/token; without this, the
// agent of one node could mint a token for any pod in the cluster and assume every IRSA role. A
// token bound to the agent's own pod names its node (userInfo.extra
// authentication.kubernetes.io/node-name), so an agent is allowed exactly what its node's kubelet
// could mint: tokens for pods on its node, as their own ServiceAccount, for an audience the pod
// really uses. Each refusal names its rule (stable, like the agent's reasons).

/** userInfo.extra key the API server sets for a token bound to a pod on a node. */
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

export type TokenRule =
  | 'NotPodBound'
  | 'NoNodeIdentity'
  | 'PodNotFound'
  | 'StalePodUID'
  | 'PodOnOtherNode'
  | 'OtherServiceAccount'
  | 'AudienceNotUsedByPod';

export interface TokenRequestReview {
  /** The requester's node (from its own pod-bound token), if it has one. */
  readonly requesterNode: string | undefined;
  readonly namespace: string;
  /** The ServiceAccount the token is requested for (the request's name). */
  readonly serviceAccount: string;
  readonly audiences: readonly string[];
  readonly boundObject: { readonly kind?: string; readonly name?: string; readonly uid?: string } | undefined;
}

/** What the decision needs of the pod the token would be bound to. */
export interface BoundPod {
  readonly uid: string;
  readonly nodeName: string | undefined;
  readonly serviceAccountName: string;
  /** Audiences the pod's own token volumes use, and the one its identity resolves to. */
  readonly audiences: readonly string[];
}

export type TokenDecision = { readonly allowed: true } | { readonly allowed: false; readonly rule: TokenRule; readonly message: string };

const deny = (rule: TokenRule, message: string): TokenDecision => ({ allowed: false, rule, message: `kube-irsa token guard (${rule}): ${message}` });

/** `pod` is undefined when the bound pod does not exist. */
export function decideTokenRequest(r: TokenRequestReview, pod: BoundPod | undefined): TokenDecision {
  const bound = r.boundObject;
  if (bound?.kind !== 'Pod' || !bound.name || !bound.uid) {
    return deny('NotPodBound', 'the agent may only request tokens bound to a pod (spec.boundObjectRef kind Pod with name and uid)');
  }
  if (!r.requesterNode) {
    return deny('NoNodeIdentity', `the requester's credentials name no node (${NODE_NAME_EXTRA}); the agent must authenticate with the token bound to its own pod`);
  }
  const podRef = `${r.namespace}/${bound.name}`;
  if (pod === undefined) return deny('PodNotFound', `pod ${podRef} does not exist`);
  if (pod.uid !== bound.uid) return deny('StalePodUID', `pod ${podRef} has uid ${pod.uid}, not ${bound.uid} (it was recreated)`);
  if (pod.nodeName !== r.requesterNode) {
    return deny('PodOnOtherNode', `pod ${podRef} is ${pod.nodeName ? `on node ${pod.nodeName}` : 'not scheduled'}, and the agent of node ${r.requesterNode} may only request tokens for pods on its node`);
  }
  if (pod.serviceAccountName !== r.serviceAccount) {
    return deny('OtherServiceAccount', `pod ${podRef} runs as ServiceAccount ${pod.serviceAccountName}, not ${r.serviceAccount}`);
  }
  const unused = r.audiences.filter((a) => !pod.audiences.includes(a));
  if (r.audiences.length === 0 || unused.length > 0) {
    const asked = r.audiences.length === 0 ? 'the API server audience' : unused.map((a) => `"${a}"`).join(', ');
    return deny('AudienceNotUsedByPod', `pod ${podRef} uses no token with audience ${asked} (its audiences: ${pod.audiences.map((a) => `"${a}"`).join(', ') || 'none'})`);
  }
  return { allowed: true };
}
