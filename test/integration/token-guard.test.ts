// The token guard through the real API server: two Node objects, an agent pod on node A whose
// pod-bound token names node A, and TokenRequests made with that token. The API server sends only
// the agent's requests to the guard (matchConditions) and fails closed when it refuses.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { eventually, KubeHelpers } from '../cluster/kube-helpers.ts';
import { startWebhookHarness, type WebhookHarness } from '../support/webhook-harness.ts';

const AGENT_NS = 'kube-irsa';
const AGENT_SA = 'kube-irsa-agent';
const AGENT_USER = `system:serviceaccount:${AGENT_NS}:${AGENT_SA}`;
const STS = 'sts.amazonaws.com';

describe('token guard: the agent of node A may mint tokens only for its own node\'s pods', () => {
  let cp: ControlPlane;
  let kube: KubeHelpers;
  let hook: WebhookHarness;
  let asAgent: CoreV1Api;
  let ns: string;
  const pods: Record<string, V1Pod> = {};

  const guardDenials = () => hook.logs.find('agent TokenRequest denied');

  /** A TokenRequest as the agent makes it: bound to `pod`, for `serviceAccount`, with `audiences`. */
  const requestToken = (pod: { name: string; uid: string }, opts: { serviceAccount?: string; audiences?: string[] } = {}) =>
    asAgent.createNamespacedServiceAccountToken({
      namespace: ns, name: opts.serviceAccount ?? 'orders',
      body: { spec: { audiences: opts.audiences ?? [STS], expirationSeconds: 900, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid } } },
    });
  const ref = (p: V1Pod) => ({ name: p.metadata?.name ?? '', uid: p.metadata?.uid ?? '' });

  async function expectDenied(call: Promise<unknown>, rule: string, message: RegExp): Promise<void> {
    await assert.rejects(call, (err: Error & { code?: number }) => {
      // the token subresource reports an admission refusal as 400 Bad Request, not 403
      assert.equal(err.code, 400, err.message);
      assert.match(err.message, new RegExp(`kube-irsa token guard \\(${rule}\\)`));
      assert.match(err.message, message);
      return true;
    });
  }

  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
    hook = await startWebhookHarness(cp);
    const core = kube.core;
    for (const node of ['node-a', 'node-b']) await core.createNode({ body: { metadata: { name: node } } });

    // the agent: its ServiceAccount may create tokens (as the chart grants in token-request mode)
    await core.createNamespace({ body: { metadata: { name: AGENT_NS } } });
    await kube.createServiceAccount(AGENT_NS, AGENT_SA);
    await kube.createServiceAccount(AGENT_NS, 'default');
    const rbac = (await import('@kubernetes/client-node')).RbacAuthorizationV1Api;
    const rbacApi = cp.kubeConfig.makeApiClient(rbac);
    await rbacApi.createClusterRole({ body: { metadata: { name: 'test-agent-tokens' }, rules: [{ apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] }] } });
    await rbacApi.createClusterRoleBinding({ body: { metadata: { name: 'test-agent-tokens' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'test-agent-tokens' }, subjects: [{ kind: 'ServiceAccount', name: AGENT_SA, namespace: AGENT_NS }] } });
    const agentPod = await kube.createPod(AGENT_NS, 'agent-a', { serviceAccountName: AGENT_SA, nodeName: 'node-a' });
    // the agent's own credentials: a token bound to its pod, which names its node
    const agentToken = await kube.tokenForPod(agentPod, { audiences: [], expirationSeconds: 3600 });
    const kc = new KubeConfig();
    const cluster = cp.kubeConfig.getCurrentCluster();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: cp.server, caData: cluster?.caData, skipTLSVerify: false }],
      users: [{ name: 'agent', token: agentToken }], contexts: [{ name: 'agent', cluster: 'c', user: 'agent' }], currentContext: 'agent',
    });
    asAgent = kc.makeApiClient(CoreV1Api);

    ns = await kube.createNamespace('guard');
    await kube.createServiceAccount(ns, 'orders', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/orders' });
    await kube.createServiceAccount(ns, 'payments');
    // pods as the webhook would have left them: a projected token volume with the STS audience
    const tokenVolume = { name: 'aws-iam-token', projected: { sources: [{ serviceAccountToken: { audience: STS, expirationSeconds: 86400, path: 'token' } }] } };
    pods.onA = await kube.createPod(ns, 'orders-a', { serviceAccountName: 'orders', nodeName: 'node-a', volumes: [tokenVolume] });
    pods.onB = await kube.createPod(ns, 'orders-b', { serviceAccountName: 'orders', nodeName: 'node-b', volumes: [tokenVolume] });

    await cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api).createValidatingWebhookConfiguration({
      body: {
        metadata: { name: 'kube-irsa-token-guard' },
        webhooks: [{
          name: 'agent-tokens.kube-irsa.io',
          clientConfig: { url: hook.url.replace('/mutate', '/validate-agent-token'), caBundle: Buffer.from(cp.ca.certPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['serviceaccounts/token'] }],
          matchConditions: [{ name: 'only-the-agent', expression: `request.userInfo.username == '${AGENT_USER}'` }],
          admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', timeoutSeconds: 5,
        }],
      },
    });
    // the API server's webhook informer lags: wait until a refusal comes back
    await eventually(async () => requestToken(ref(pods.onB!)).then(() => undefined, (err: Error) => (/token guard/.test(err.message) ? true : undefined)), 'the guard registration to take effect', 30_000, 200);
  });

  after(async () => {
    await hook?.stop();
    await cp?.stop();
  });

  test('the agent\'s token names its node, and a token for a pod on node A is allowed', async () => {
    const res = await requestToken(ref(pods.onA!));
    assert.ok(res.status?.token);
  });

  test('a pod on node B is refused (PodOnOtherNode)', async () => {
    await expectDenied(requestToken(ref(pods.onB!)), 'PodOnOtherNode', /pod guard-[0-9a-f]+\/orders-b is on node node-b, and the agent of node node-a/);
  });

  test('a pod that does not exist is refused (PodNotFound)', async () => {
    await expectDenied(requestToken({ name: 'ghost', uid: '00000000-0000-0000-0000-000000000000' }), 'PodNotFound', /ghost does not exist/);
  });

  test('a stale uid is refused (StalePodUID)', async () => {
    await expectDenied(requestToken({ name: 'orders-a', uid: '11111111-1111-1111-1111-111111111111' }), 'StalePodUID', /it was recreated/);
  });

  test('another ServiceAccount than the pod\'s is refused (OtherServiceAccount)', async () => {
    await expectDenied(requestToken(ref(pods.onA!), { serviceAccount: 'payments' }), 'OtherServiceAccount', /runs as ServiceAccount orders, not payments/);
  });

  test('an audience the pod does not use is refused (AudienceNotUsedByPod)', async () => {
    await expectDenied(requestToken(ref(pods.onA!), { audiences: ['vault.example.com'] }), 'AudienceNotUsedByPod', /vault\.example\.com/);
  });

  test('a user other than the agent is never sent to the guard', async () => {
    const before = guardDenials().length;
    // the guard would refuse it (the admin's credentials name no node): it succeeds only unguarded
    const admin = await kube.tokenForPod(pods.onB!, { audiences: [STS] });
    assert.ok(admin, 'the admin may mint a token for a pod on node B');
    assert.equal(guardDenials().length, before, 'no refusal logged: the request never reached the guard');
    assert.ok(guardDenials().every((l) => l.requester === AGENT_USER));
  });
});
