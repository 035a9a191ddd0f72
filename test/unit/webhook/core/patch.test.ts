import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import type { WebIdentity, ContainerCredentialsIdentity } from '../../../../shared/identity/resolve.ts';
import { INJECTED_ANNOTATION } from '../../../../shared/identity/injection.ts';
import { buildPodPatch, type MutationSettings } from '../../../../webhook/core/patch.ts';
import { isWindowsPod, type PodLike } from '../../../../webhook/core/pod.ts';
import { applyPodOverrides } from '../../../../webhook/core/pod-overrides.ts';
import { roleSessionNameFor, sanitizeSessionName } from '../../../../webhook/core/session-name.ts';
import { parseSkipContainers } from '../../../../webhook/core/skip-containers.ts';

const settings: MutationSettings = {
  annotationPrefix: 'eks.amazonaws.com', region: '',
  webIdentity: { volumeName: 'aws-iam-token', tokenPath: 'token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
  containerCredentials: { volumeName: 'eks-pod-identity-token', tokenPath: 'eks-pod-identity-token', mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount', audience: 'pods.eks.amazonaws.com', fullUri: 'http://169.254.170.23/v1/credentials' },
  random: () => 0.5,
};
const web: WebIdentity = {
  mode: 'web-identity', roleArn: 'arn:aws:iam::111122223333:role/app', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false,
  tokenExpirationSeconds: 86_400, injectRoleSessionName: false, source: 'service-account', sourceDetail: undefined, warnings: [],
};
const pod = (spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = { name: 'p' }): PodLike => ({
  apiVersion: 'v1', kind: 'Pod', metadata, spec: { containers: [{ name: 'app', image: 'x' }], ...spec },
});
const mutate = (p: PodLike, identity: WebIdentity | ContainerCredentialsIdentity = web, s: Partial<MutationSettings> = {}, req: { requestName?: string; requestUid?: string } = {}) => {
  const all = { ...settings, ...s };
  const r = buildPodPatch({ pod: p, overrides: applyPodOverrides(p, identity, all.annotationPrefix), ...req }, all);
  const out = fastJsonPatch.applyPatch(structuredClone(p), structuredClone(r.patch) as fastJsonPatch.Operation[], true, false).newDocument as {
    metadata: { labels?: Record<string, string>; annotations: Record<string, string> };
    spec: { containers: Array<Record<string, unknown> & { env?: Array<{ name: string; value: string }> }>; initContainers?: Array<Record<string, unknown>>; volumes: Array<{ name: string; projected?: { sources: Array<{ serviceAccountToken: { expirationSeconds: number } }> } }> };
  };
  return { ...r, out };
};
const envOf = (c: { env?: Array<{ name: string; value: string }> }) => Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));

describe('buildPodPatch', () => {
  test('a native sidecar keeps restartPolicy: Always and unknown future fields', () => {
    const { out } = mutate(pod({ initContainers: [{ name: 'proxy', image: 'x', restartPolicy: 'Always', someFutureField: { a: 1 } }] }));
    assert.equal(out.spec.initContainers![0]!.restartPolicy, 'Always');
    assert.deepEqual(out.spec.initContainers![0]!.someFutureField, { a: 1 });
    assert.equal(envOf(out.spec.initContainers![0] as never).AWS_ROLE_ARN, web.roleArn);
  });
  test('env is appended after the user\'s own entries with /- operations', () => {
    const { patch, out } = mutate(pod({ containers: [{ name: 'app', env: [{ name: 'A', value: '1' }] }] }));
    assert.deepEqual(out.spec.containers[0]!.env!.map((e) => e.name), ['A', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']);
    assert.ok(patch.some((op) => op.path === '/spec/containers/0/env/-'));
  });
  test('a user-set AWS_WEB_IDENTITY_TOKEN_FILE is never overwritten', () => {
    const { out } = mutate(pod({ containers: [{ name: 'app', env: [{ name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/mine' }] }] }));
    assert.deepEqual(envOf(out.spec.containers[0]!), { AWS_WEB_IDENTITY_TOKEN_FILE: '/mine' });
  });
  test('Windows is detected from spec.os.name', () => {
    const { out } = mutate(pod({ os: { name: 'windows' } }));
    assert.equal(envOf(out.spec.containers[0]!).AWS_WEB_IDENTITY_TOKEN_FILE, 'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token');
  });
  test('Windows is detected from a required node-affinity term', () => {
    const affinity = (values: string[], op = 'In') => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/os', operator: op, values }] }] } } });
    assert.equal(isWindowsPod(pod({ affinity: affinity(['windows']) })), true);
    assert.equal(isWindowsPod(pod({ affinity: affinity(['windows', 'linux']) })), false, 'either OS: not certainly Windows');
    assert.equal(isWindowsPod(pod({ affinity: affinity(['windows'], 'NotIn') })), false);
    assert.equal(isWindowsPod(pod({ nodeSelector: { 'kubernetes.io/os': 'linux' } })), false);
  });
  test('container-credentials mode: label, token volume and the jittered expiration from the random source', () => {
    const cc: ContainerCredentialsIdentity = { mode: 'container-credentials', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, source: 'container-credentials', sourceDetail: undefined, warnings: [] };
    const { out } = mutate(pod({}, { name: 'p', labels: { app: 'x' } }), cc);
    assert.equal(out.metadata.labels!['eks.amazonaws.com/pod-identity'], 'enabled');
    assert.equal(out.metadata.labels!.app, 'x');
    assert.equal(out.spec.volumes[0]!.projected!.sources[0]!.serviceAccountToken.expirationSeconds, 79_200 + Math.floor(0.5 * 7201));
    assert.deepEqual(envOf(out.spec.containers[0]!), {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
    });
  });
  test('the pod token-expiration annotation wins and is warned about when unparsable', () => {
    assert.equal(mutate(pod({}, { name: 'p', annotations: { 'eks.amazonaws.com/token-expiration': '3600' } })).out.spec.volumes[0]!.projected!.sources[0]!.serviceAccountToken.expirationSeconds, 3600);
    const bad = mutate(pod({}, { name: 'p', annotations: { 'eks.amazonaws.com/token-expiration': 'soon' } }));
    assert.equal(bad.out.spec.volumes[0]!.projected!.sources[0]!.serviceAccountToken.expirationSeconds, 86_400);
    assert.match(bad.warnings[0]!, /pod annotation eks\.amazonaws\.com\/token-expiration "soon" is not a whole number/);
  });
  test('skip-containers leaves the named container alone and warns about unknown names', () => {
    const r = mutate(pod({ containers: [{ name: 'app' }, { name: 'sidecar' }] }, { name: 'p', annotations: { 'eks.amazonaws.com/skip-containers': 'sidecar, ghost' } }));
    assert.equal(r.out.spec.containers[1]!.env, undefined);
    assert.ok(r.out.spec.containers[0]!.env);
    assert.deepEqual(r.warnings, ['pod annotation eks.amazonaws.com/skip-containers names containers this pod does not have: ghost']);
  });
  test('role ARN warnings from the identity reach the result', () => {
    assert.deepEqual(mutate(pod(), { ...web, warnings: ['bad arn'] }).warnings, ['bad arn']);
  });
  test('the injected annotation is added next to existing annotations', () => {
    const { out } = mutate(pod({}, { name: 'p', annotations: { keep: 'me' } }));
    assert.equal(out.metadata.annotations.keep, 'me');
    assert.equal(JSON.parse(out.metadata.annotations[INJECTED_ANNOTATION]!).roleArn, web.roleArn);
  });
  test('AWS_ROLE_SESSION_NAME from the pod name when opted in', () => {
    const { out } = mutate(pod({}, { name: 'web-0' }), { ...web, injectRoleSessionName: true });
    assert.equal(envOf(out.spec.containers[0]!).AWS_ROLE_SESSION_NAME, 'web-0');
  });
  test('a pod without containers gets the volume and annotation only', () => {
    const r = mutate({ metadata: { name: 'p' }, spec: {} });
    assert.deepEqual(r.patch.map((op) => op.path), ['/metadata/annotations', '/spec/volumes']);
  });
});

describe('role session names', () => {
  test('generateName pods get the prefix plus part of the request uid', () => {
    assert.equal(roleSessionNameFor({ metadata: { generateName: 'web-7d9f-' } }, '', 'AB12-cd34-ef56'), 'web-7d9f-ab12c');
  });
  test('names over 64 characters keep their start and a hash, and stay distinct', () => {
    const a = sanitizeSessionName(`${'x'.repeat(70)}-a`);
    const b = sanitizeSessionName(`${'x'.repeat(70)}-b`);
    assert.equal(a.length, 64);
    assert.match(a, /^x{55}-[0-9a-f]{8}$/);
    assert.notEqual(a, b);
  });
  test('every result satisfies STS\'s pattern and length', () => {
    for (const raw of ['a', 'pod.with.dots', 'x'.repeat(300), 'weird name/with:chars']) {
      const n = sanitizeSessionName(raw);
      assert.match(n, /^[\w+=,.@-]{2,64}$/, raw);
    }
  });
});

describe('skip-containers parsing', () => {
  test('commas, quotes and trimming', () => {
    assert.deepEqual([...parseSkipContainers('a, b,"c,d"').names], ['a', 'b', 'c,d']);
    assert.deepEqual([...parseSkipContainers('"say ""hi"""').names], ['say "hi"']);
  });
  test('unreadable values skip nothing', () => {
    assert.equal(parseSkipContainers('').error, 'empty value');
    assert.match(parseSkipContainers('a"b').error!, /bare "/);
    assert.equal(parseSkipContainers('"open').error, 'unterminated quoted field');
  });
});
