// The admission app's HTTP surface through fastify's inject(): the reference's handler test vectors
// (test/fixtures/reference-webhook/handler-test-vectors.json, the project's transcription), with kube-irsa's
// documented deviations asserted as such, plus the edge cases the reference does not handle.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { IdentityDefaults } from '../../../shared/identity/annotations.ts';
import { IdentityResolver } from '../../../shared/identity/resolver.ts';
import { createWebhookMetrics } from '../../../webhook/metrics.ts';
import { buildAdmissionApp, MAX_REVIEW_BYTES } from '../../../webhook/server.ts';
import { ServiceAccountCache } from '../../../shared/identity/service-account-cache.ts';

const VECTORS = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../fixtures/reference-webhook/handler-test-vectors.json'), 'utf8')) as {
  serviceAccounts: Array<{ namespace: string; name: string; annotations: Record<string, string> }>;
  expectedPatchJSON: string;
  httpCases: Array<{ name: string; contentType: string; requestBody: string; expectedStatus: number; expectedBody: string }>;
};

const defaults: IdentityDefaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
const logger = pino({ level: 'silent' });

function app(resolver?: IdentityResolver) {
  const cache = new ServiceAccountCache({ defaults, read: undefined, gracePeriodMs: 0, logger });
  for (const sa of VECTORS.serviceAccounts) {
    cache.upsert(`${sa.namespace}/${sa.name}`, cache.parse({ metadata: { namespace: sa.namespace, name: sa.name, annotations: sa.annotations } }));
  }
  // the reference's HTTP tests build the fake cache without the 600 s floor; 3600 is above it anyway
  const metrics = createWebhookMetrics(new Registry());
  return {
    metrics,
    app: buildAdmissionApp({
      https: { cert: '', key: '', minVersion: 'TLSv1.2' },
      logger, metrics, readiness: () => undefined,
      deps: {
        resolver: resolver ?? new IdentityResolver({ serviceAccounts: cache, defaults }),
        settings: {
          annotationPrefix: 'eks.amazonaws.com', region: '', random: () => 0,
          webIdentity: { volumeName: 'aws-iam-token', tokenPath: 'token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
          containerCredentials: { volumeName: 'v', tokenPath: 't', mountPath: '/m', audience: 'a', fullUri: 'u' },
        },
      },
    }),
  };
}

const vector = (name: string) => VECTORS.httpCases.find((c) => c.name === name)!;
async function post(body: string, contentType = 'application/json') {
  const { app: a } = app();
  const res = await a.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': contentType }, payload: body });
  await a.close();
  return res;
}
type Review = { kind?: string; apiVersion?: string; response: { uid: string; allowed: boolean; patch?: string; patchType?: string; status?: { message: string }; warnings?: string[] } };

describe('reference handler vectors', () => {
  for (const name of ['nilBody', 'NoRequest', 'BadContentType']) {
    test(`${name}: same status and body bytes as the reference`, async () => {
      const v = vector(name);
      const res = await post(v.requestBody, v.contentType);
      assert.equal(res.statusCode, v.expectedStatus);
      assert.equal(res.body, v.expectedBody);
    });
  }

  test('InvalidJSON: same answer; the parser\'s own words follow the reference\'s prefix', async () => {
    const v = vector('InvalidJSON');
    const res = await post(v.requestBody, v.contentType);
    assert.equal(res.statusCode, 200);
    const r = JSON.parse(res.body) as Review;
    assert.equal(r.response.allowed, false);
    assert.match(r.response.status!.message, /^couldn't get version\/kind; json parse error: /);
  });

  test('InvalidPodBytes (documented deviation): denied like the reference, with kube-irsa\'s message instead of Go\'s', async () => {
    const v = vector('InvalidPodBytes');
    // the vector has no operation or kind; with those it is a pod CREATE whose object is a string
    const body = JSON.stringify({ request: { uid: 'u1', operation: 'CREATE', kind: { group: '', version: 'v1', kind: 'Pod' }, object: (JSON.parse(v.requestBody) as { request: { object: unknown } }).request.object } });
    const r = JSON.parse((await post(body)).body) as Review;
    assert.deepEqual(r.response, { uid: 'u1', allowed: false, status: { metadata: {}, message: 'cannot read request.object as a Pod: expected an object, got a string' } });
    assert.equal(JSON.parse(v.expectedBody).response.status.message, 'json: cannot unmarshal string into Go value of type v1.Pod');
  });

  for (const name of ['ValidRequestSuccessWithoutVolumes', 'ValidRequestV1TypeMetaEchoed']) {
    test(`${name}: echoes apiVersion/kind and uid, and the patch yields the reference's pod`, async () => {
      const v = vector(name);
      const res = await post(v.requestBody, v.contentType);
      assert.equal(res.statusCode, 200);
      const ours = JSON.parse(res.body) as Review;
      const theirs = JSON.parse(v.expectedBody) as Review;
      assert.equal(ours.kind, theirs.kind);
      assert.equal(ours.apiVersion, theirs.apiVersion);
      assert.equal(ours.response.uid, theirs.response.uid);
      assert.equal(ours.response.allowed, true);
      assert.equal(ours.response.patchType, 'JSONPatch');
      const pod = (JSON.parse(v.requestBody) as { request: { object: unknown } }).request.object;
      const apply = (p: string) => fastJsonPatch.applyPatch(structuredClone(pod), JSON.parse(Buffer.from(p, 'base64').toString()) as fastJsonPatch.Operation[], true, false).newDocument as { metadata: { annotations?: Record<string, string> }; spec: { containers: Array<Record<string, unknown>> } };
      const mine = apply(ours.response.patch!);
      const ref = apply(theirs.response.patch!);
      delete mine.metadata.annotations; // kube-irsa.io/injected: kube-irsa's addition
      for (const c of ref.spec.containers) delete c.resources; // Go's "resources": {} artefact
      assert.deepEqual(mine, ref);
    });
  }
});

describe('admission HTTP edge cases', () => {
  const podReview = (over: Record<string, unknown> = {}, apiVersion = 'admission.k8s.io/v1') => JSON.stringify({
    apiVersion, kind: 'AdmissionReview',
    request: {
      uid: 'abc', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'default', operation: 'CREATE',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { serviceAccountName: 'default', containers: [{ name: 'c', image: 'x' }] } },
      ...over,
    },
  });

  test('admission.k8s.io/v1beta1 is answered in v1beta1', async () => {
    const r = JSON.parse((await post(podReview({}, 'admission.k8s.io/v1beta1'))).body) as Review;
    assert.equal(r.apiVersion, 'admission.k8s.io/v1beta1');
    assert.equal(r.response.allowed, true);
    assert.ok(r.response.patch);
  });
  test('an unknown AdmissionReview version is refused in a well-formed answer', async () => {
    const r = JSON.parse((await post(podReview({}, 'admission.k8s.io/v2'))).body) as Review;
    assert.equal(r.apiVersion, 'admission.k8s.io/v2');
    assert.match(r.response.status!.message, /unsupported AdmissionReview apiVersion admission\.k8s\.io\/v2/);
  });
  test('application/json with a charset is accepted (the reference answers 415)', async () => {
    assert.equal((await post(podReview(), 'application/json; charset=utf-8')).statusCode, 200);
  });
  test('a body over the limit gets 413', async () => {
    const res = await post(`{"pad":"${'x'.repeat(MAX_REVIEW_BYTES)}"}`);
    assert.equal(res.statusCode, 413);
  });
  for (const operation of ['UPDATE', 'DELETE', 'CONNECT']) {
    test(`${operation} is allowed untouched (the reference mutates UPDATE and denies DELETE)`, async () => {
      const r = JSON.parse((await post(podReview({ operation, ...(operation === 'DELETE' ? { object: null } : {}) }))).body) as Review;
      assert.deepEqual(r.response, { uid: 'abc', allowed: true });
    });
  }
  test('a non-Pod object is allowed untouched', async () => {
    const r = JSON.parse((await post(podReview({ kind: { group: '', version: 'v1', kind: 'ConfigMap' }, object: { metadata: { name: 'c' } } }))).body) as Review;
    assert.deepEqual(r.response, { uid: 'abc', allowed: true });
  });
  test('a pod subresource (ephemeral containers, binding) is allowed untouched', async () => {
    const r = JSON.parse((await post(podReview({ subResource: 'ephemeralcontainers' }))).body) as Review;
    assert.deepEqual(r.response, { uid: 'abc', allowed: true });
  });
  test('a dry run is mutated like a real request', async () => {
    const r = JSON.parse((await post(podReview({ dryRun: true }))).body) as Review;
    assert.ok(r.response.patch);
  });
  test('a pod whose ServiceAccount has no role is allowed without a patch', async () => {
    const r = JSON.parse((await post(podReview({ object: { metadata: { name: 'p' }, spec: { serviceAccountName: 'nobody', containers: [] } } }))).body) as Review;
    assert.deepEqual(r.response, { uid: 'abc', allowed: true });
  });
  test('a JSON array body is refused in a well-formed answer', async () => {
    const r = JSON.parse((await post('[1,2]')).body) as Review;
    assert.equal(r.response.allowed, false);
  });
  test('a review without a uid is refused as malformed, never mutated', async () => {
    for (const uid of [undefined, '', 42]) {
      const r = JSON.parse((await post(podReview({ uid }))).body) as Review;
      assert.equal(r.response.allowed, false, String(uid));
      assert.equal(r.response.patch, undefined);
      assert.match(r.response.status!.message, /request\.uid is missing/);
      assert.equal(r.apiVersion, 'admission.k8s.io/v1', 'still answered through the encoder');
    }
  });
  test('an unexpected failure answers 500 through the one encoder: uid, apiVersion and kind echoed', async () => {
    const failing = { resolvePod: () => Promise.reject(new Error('boom')) } as unknown as IdentityResolver;
    const { app: a } = app(failing);
    const res = await a.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: podReview() });
    await a.close();
    assert.equal(res.statusCode, 500);
    assert.deepEqual(JSON.parse(res.body), {
      kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1',
      response: { uid: 'abc', allowed: false, status: { metadata: {}, message: 'internal error in kube-irsa' } },
    });
  });
  test('GET /mutate is not an admission endpoint', async () => {
    const { app: a } = app();
    assert.equal((await a.inject({ method: 'GET', url: '/mutate' })).statusCode, 404);
    await a.close();
  });
  test('admissions are counted by outcome', async () => {
    const { app: a, metrics } = app();
    await a.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: podReview() });
    await a.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: podReview({ operation: 'UPDATE' }) });
    const text = await metrics.registry.metrics();
    assert.match(text, /kube_irsa_webhook_admissions_total\{outcome="mutated"\} 1/);
    assert.match(text, /kube_irsa_webhook_admissions_total\{outcome="not-a-pod-create"\} 1/);
    assert.match(text, /pod_identity_webhook_pod_count\{method="sts_web_identity"\} 1/);
    assert.match(text, /http_request_count\{verb="POST",path="\/mutate",code="200"\} 2/);
    await a.close();
  });
  test('/healthz and /readyz', async () => {
    const { app: a } = app();
    assert.equal((await a.inject('/healthz')).body, 'ok');
    assert.equal((await a.inject('/readyz')).statusCode, 200);
    await a.close();
  });
});
