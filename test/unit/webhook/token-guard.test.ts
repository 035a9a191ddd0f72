// The token guard's decision, rule by rule: what the agent of one node may mint.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideTokenRequest, type BoundPod, type TokenRequestReview, type TokenRule } from '../../../webhook/token-guard/decide.ts';

const pod: BoundPod = { uid: 'uid-1', nodeName: 'node-a', serviceAccountName: 'orders', audiences: ['sts.amazonaws.com'] };
const review: TokenRequestReview = {
  requesterNode: 'node-a', namespace: 'shop', serviceAccount: 'orders', audiences: ['sts.amazonaws.com'],
  boundObject: { kind: 'Pod', name: 'orders-0', uid: 'uid-1' },
};

test('a token for a pod on the requester\'s node, as its ServiceAccount, for its audience, is allowed', () => {
  assert.deepEqual(decideTokenRequest(review, pod), { allowed: true });
});

const refusals: Array<[string, Partial<TokenRequestReview>, BoundPod | undefined, TokenRule, RegExp]> = [
  ['no bound object', { boundObject: undefined }, pod, 'NotPodBound', /bound to a pod/],
  ['bound to a Secret', { boundObject: { kind: 'Secret', name: 's', uid: 'u' } }, pod, 'NotPodBound', /bound to a pod/],
  ['bound without uid', { boundObject: { kind: 'Pod', name: 'orders-0' } }, pod, 'NotPodBound', /name and uid/],
  ['requester without a node', { requesterNode: undefined }, pod, 'NoNodeIdentity', /name no node/],
  ['pod that does not exist', {}, undefined, 'PodNotFound', /pod shop\/orders-0 does not exist/],
  ['stale uid', { boundObject: { kind: 'Pod', name: 'orders-0', uid: 'uid-0' } }, pod, 'StalePodUID', /has uid uid-1, not uid-0/],
  ['pod on another node', {}, { ...pod, nodeName: 'node-b' }, 'PodOnOtherNode', /on node node-b, and the agent of node node-a/],
  ['pod not scheduled', {}, { ...pod, nodeName: undefined }, 'PodOnOtherNode', /not scheduled/],
  ['another ServiceAccount than the pod\'s', { serviceAccount: 'payments' }, pod, 'OtherServiceAccount', /runs as ServiceAccount orders, not payments/],
  ['an audience the pod does not use', { audiences: ['vault'] }, pod, 'AudienceNotUsedByPod', /no token with audience "vault"/],
  ['one of two audiences unused', { audiences: ['sts.amazonaws.com', 'vault'] }, pod, 'AudienceNotUsedByPod', /"vault"/],
  ['the API server audience (none given)', { audiences: [] }, pod, 'AudienceNotUsedByPod', /the API server audience/],
];

for (const [what, change, boundPod, rule, message] of refusals) {
  test(`refused: ${what} (${rule})`, () => {
    const d = decideTokenRequest({ ...review, ...change }, boundPod);
    assert.equal(d.allowed, false);
    if (d.allowed) return;
    assert.equal(d.rule, rule);
    assert.match(d.message, message);
    assert.match(d.message, new RegExp(`^kube-irsa token guard \\(${rule}\\): `));
  });
}
