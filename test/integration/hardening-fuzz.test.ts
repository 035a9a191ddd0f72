// Fuzzing the admission path: random and mutated AdmissionReviews (property-based, seeded). Every
// answer is a well-formed AdmissionReview or a documented 4xx, every patch applies (RFC 6902) to
// its input, a second pass over a patched pod adds nothing, and a sample of patched pods is
// accepted by the real API server. KUBE_IRSA_FUZZ_RUNS sets the number of cases (default 5,000;
// `npm run fuzz` runs 100,000).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { IdentityDefaults } from '../../shared/identity/annotations.ts';
import { parseIdentityMapping } from '../../shared/identity/config-map.ts';
import { ContainerCredentialsConfig } from '../../shared/identity/container-credentials.ts';
import { IdentityResolver } from '../../shared/identity/resolver.ts';
import { ServiceAccountCache } from '../../shared/identity/service-account-cache.ts';
import { createWebhookMetrics } from '../../webhook/metrics.ts';
import { buildAdmissionApp } from '../../webhook/server.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { KubeHelpers } from '../cluster/kube-helpers.ts';

const RUNS = Number(process.env.KUBE_IRSA_FUZZ_RUNS ?? 5_000);
const SEED = Number(process.env.KUBE_IRSA_FUZZ_SEED ?? 20261126);
const defaults: IdentityDefaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
const SERVICE_ACCOUNTS = ['app', 'sts', 'session', 'bad-arn', 'plain', 'default'];

function admissionApp() {
  const logger = pino({ level: 'silent' });
  const cache = new ServiceAccountCache({ defaults, read: undefined, gracePeriodMs: 0, logger });
  const add = (name: string, annotations: Record<string, string>) => cache.upsert(`fuzz/${name}`, cache.parse({ metadata: { namespace: 'fuzz', name, annotations } }));
  add('app', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/app' });
  add('sts', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/sts', 'eks.amazonaws.com/sts-regional-endpoints': 'true', 'eks.amazonaws.com/token-expiration': '3600' });
  add('session', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::111122223333:role/s', 'eks.amazonaws.com/role-session-name': 'true' });
  add('bad-arn', { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::::1:role/x', 'eks.amazonaws.com/token-expiration': 'soon' });
  add('plain', {});
  const mapping = parseIdentityMapping(JSON.stringify({ '*/default': { RoleARN: 'arn:aws:iam::111122223333:role/mapped' } }), defaults);
  assert.ok(mapping.ok);
  return buildAdmissionApp({
    https: { cert: '', key: '', minVersion: 'TLSv1.2' }, logger, metrics: createWebhookMetrics(new Registry()), readiness: () => undefined,
    deps: {
      resolver: new IdentityResolver({
        serviceAccounts: cache, defaults, mapping: () => mapping.mapping,
        containerCredentials: () => new ContainerCredentialsConfig(new Set(['fuzz/plain'])),
      }),
      settings: {
        annotationPrefix: 'eks.amazonaws.com', region: 'eu-west-1', random: () => 0.5,
        webIdentity: { volumeName: 'aws-iam-token', tokenPath: 'token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
        containerCredentials: { volumeName: 'eks-pod-identity-token', tokenPath: 'eks-pod-identity-token', mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount', audience: 'pods.eks.amazonaws.com', fullUri: 'http://169.254.170.23/v1/credentials' },
      },
    },
  });
}

// --- generators -------------------------------------------------------------------------------

const dnsName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/);
const envVar = fc.oneof(
  fc.record({ name: fc.constantFrom('AWS_ROLE_ARN', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_STS_REGIONAL_ENDPOINTS', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_SESSION_NAME', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'OTHER'), value: fc.string({ maxLength: 20 }) }),
  fc.record({ name: fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), valueFrom: fc.constant({ fieldRef: { fieldPath: 'metadata.name' } }) }),
);
const containerOf = (name: string) => fc.record({
  name: fc.constant(name),
  image: fc.constant('registry.k8s.io/pause:3.10'),
  env: fc.option(fc.uniqueArray(envVar, { selector: (e) => e.name, maxLength: 5 }), { nil: undefined }),
  volumeMounts: fc.option(fc.array(fc.record({ name: fc.constantFrom('aws-iam-token', 'data', 'eks-pod-identity-token'), mountPath: fc.constantFrom('/data', '/var/run/secrets/eks.amazonaws.com/serviceaccount', '/other') }), { maxLength: 2 }), { nil: undefined }),
  restartPolicy: fc.option(fc.constant('Always'), { nil: undefined }),
  futureField: fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 }), { nil: undefined }),
}, { requiredKeys: ['name', 'image'] });
const containers = (prefix: string, max: number) => fc.integer({ min: 0, max }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => containerOf(`${prefix}${i}`))));

/** A valid Pod, as the API server could send it. */
const validPod = fc.record({
  apiVersion: fc.constant('v1'), kind: fc.constant('Pod'),
  metadata: fc.record({
    name: fc.option(dnsName, { nil: undefined }), generateName: fc.option(dnsName.map((s) => `${s}-`), { nil: undefined }),
    labels: fc.option(fc.dictionary(dnsName, dnsName, { maxKeys: 3 }), { nil: undefined }),
    annotations: fc.option(fc.record({
      'eks.amazonaws.com/token-expiration': fc.option(fc.oneof(fc.integer({ min: -10, max: 200_000 }).map(String), fc.string({ maxLength: 6 })), { nil: undefined }),
      'eks.amazonaws.com/skip-containers': fc.option(fc.oneof(fc.constant('c0'), fc.constant('c0, i0'), fc.string({ maxLength: 10 })), { nil: undefined }),
    }, { requiredKeys: [] }), { nil: undefined }),
  }, { requiredKeys: [] }),
  spec: fc.record({
    serviceAccountName: fc.constantFrom(...SERVICE_ACCOUNTS),
    containers: containers('c', 4).filter((c) => c.length > 0),
    initContainers: fc.option(containers('i', 2), { nil: undefined }),
    volumes: fc.option(fc.array(fc.record({ name: fc.constantFrom('aws-iam-token', 'data', 'cache'), emptyDir: fc.constant({}) }), { maxLength: 2 }).map((vs) => vs.filter((v, i) => vs.findIndex((x) => x.name === v.name) === i)), { nil: undefined }),
    nodeSelector: fc.option(fc.constantFrom({ 'kubernetes.io/os': 'windows' }, { 'kubernetes.io/os': 'linux' }), { nil: undefined }),
    os: fc.option(fc.record({ name: fc.constantFrom('linux', 'windows') }), { nil: undefined }),
  }, { requiredKeys: ['serviceAccountName', 'containers'] }),
});

const request = (object: unknown, over: Record<string, unknown> = {}) => ({
  uid: 'fuzz-uid', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
  namespace: 'fuzz', operation: 'CREATE', object, ...over,
});

/** Whole bodies: valid reviews, reviews with broken parts, and arbitrary text. */
const body = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(validPod, fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1')).map(([pod, v]) => JSON.stringify({ apiVersion: v, kind: 'AdmissionReview', request: request(pod) })) },
  { weight: 2, arbitrary: fc.tuple(validPod, fc.record({ operation: fc.constantFrom('UPDATE', 'DELETE', 'CONNECT', 42, null), dryRun: fc.boolean(), subResource: fc.constantFrom('', 'ephemeralcontainers', 'status') }, { requiredKeys: [] })).map(([pod, over]) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request(pod, over) })) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((junk) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request(junk) })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((junk) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request({ metadata: {}, spec: { serviceAccountName: 'app', containers: junk, initContainers: junk, volumes: junk } }) })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
);

describe('fuzzing the webhook', () => {
  let cp: ControlPlane;
  const acceptedSamples: Array<{ input: unknown; patched: unknown }> = [];
  before(async () => {
    cp = await startControlPlane();
  });
  after(async () => {
    await cp?.stop();
  });

  test(`${RUNS} random and mutated AdmissionReviews: no crash, well-formed answers, applicable idempotent patches`, async () => {
    const app = admissionApp();
    let mutated = 0;
    await fc.assert(fc.asyncProperty(body, async (text) => {
      const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: text });
      assert.ok([200, 413, 415].includes(res.statusCode), `status ${res.statusCode}`);
      if (res.statusCode !== 200) return;
      const review = JSON.parse(res.body) as { response: { uid: unknown; allowed: unknown; patch?: string; patchType?: string; status?: { message: unknown } } };
      assert.equal(typeof review.response.uid, 'string');
      assert.equal(typeof review.response.allowed, 'boolean');
      if (!review.response.allowed) assert.equal(typeof review.response.status?.message, 'string');
      if (!review.response.patch) return;
      mutated++;
      assert.equal(review.response.patchType, 'JSONPatch');
      const pod = (JSON.parse(text) as { request: { object: unknown } }).request.object;
      const patch = JSON.parse(Buffer.from(review.response.patch, 'base64').toString()) as fastJsonPatch.Operation[];
      assert.equal(fastJsonPatch.validate(patch, structuredClone(pod)), undefined, 'the patch applies to its input');
      const patched = fastJsonPatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
      const again = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: request(patched) }) });
      assert.equal((JSON.parse(again.body) as { response: { patch?: string } }).response.patch, undefined, 'a second pass adds nothing');
      if (acceptedSamples.length < 200 && (patched as { apiVersion?: string }).apiVersion === 'v1') acceptedSamples.push({ input: pod, patched });
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    await app.close();
    assert.ok(mutated > RUNS / 4, `a good share of the cases were mutated (${mutated})`);
  });

  test('mutated pods are accepted by the real API server whenever their input is (server-side dry run)', async () => {
    assert.ok(acceptedSamples.length >= 100, `${acceptedSamples.length} samples`);
    const kube = new KubeHelpers(cp.kubeConfig);
    await kube.core.createNamespace({ body: { metadata: { name: 'fuzz' } } });
    for (const sa of SERVICE_ACCOUNTS.filter((s) => s !== 'default')) await kube.createServiceAccount('fuzz', sa);
    await kube.createServiceAccount('fuzz', 'default');
    const prepare = (doc: unknown, i: number) => {
      const pod = structuredClone(doc) as { metadata?: { name?: string; generateName?: string; namespace?: string } };
      pod.metadata ??= {};
      pod.metadata.namespace = 'fuzz';
      if (!pod.metadata.name && !pod.metadata.generateName) pod.metadata.name = `fuzz-${i}`;
      return pod as never;
    };
    let checked = 0;
    for (const [i, sample] of acceptedSamples.entries()) {
      // random inputs are often invalid pods (a mount of a missing volume…): those say nothing about the patch
      const inputOk = await kube.core.createNamespacedPod({ namespace: 'fuzz', body: prepare(sample.input, i), dryRun: 'All' }).then(() => true, () => false);
      if (!inputOk) continue;
      checked++;
      try {
        await kube.core.createNamespacedPod({ namespace: 'fuzz', body: prepare(sample.patched, i), dryRun: 'All' });
      } catch (err) {
        assert.fail(`sample ${i} refused after mutation: ${(err as { body?: string }).body ?? (err as Error).message}\n${JSON.stringify(sample.patched)}`);
      }
    }
    assert.ok(checked >= 20, `${checked} valid samples checked`);
    console.log(`# ${checked} of ${acceptedSamples.length} sampled pods were valid inputs; each was still accepted after mutation`);
  });
});
