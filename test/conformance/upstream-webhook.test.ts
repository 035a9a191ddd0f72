// The reference webhook's 24 golden fixtures (pkg/handler/testdata of
// github.com/aws/amazon-eks-pod-identity-webhook, fetched through the Go module proxy and cached
// with the test binaries; the harness they assume is in test/fixtures/reference-webhook/README.md): for each, the
// pod the reference's patch produces and the pod kube-irsa's patch produces must be the same, after
// the normalisation the corpus README prescribes. The two fixtures that encode Go's lossy typing
// are asserted explicitly: kube-irsa keeps the user's fields as written.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import { parse as parseYaml } from 'yaml';
import { parseServiceAccountAnnotations, type IdentityDefaults } from '../../shared/identity/annotations.ts';
import { IdentityMapping } from '../../shared/identity/config-map.ts';
import { ContainerCredentialsConfig } from '../../shared/identity/container-credentials.ts';
import { resolveIdentity, type ResolvedIdentity } from '../../shared/identity/resolve.ts';
import { ensureBinaries } from '../cluster/binaries.ts';
import { INJECTED_ANNOTATION } from '../../shared/identity/injection.ts';
import { buildPodPatch, type MutationSettings } from '../../webhook/core/patch.ts';
import { applyPodOverrides } from '../../webhook/core/pod-overrides.ts';

const CORPUS = path.join(await ensureBinaries(['reference-fixtures']), 'reference-fixtures');
const T = 'testing.eks.amazonaws.com/';

function fixtureFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return entry === 'extra' ? [] : fixtureFiles(full);
    return /\.ya?ml$/.test(entry) ? [full] : [];
  }).sort();
}

interface Fixture {
  readonly name: string;
  readonly pod: Record<string, unknown>;
  readonly expectedPatch: fastJsonPatch.Operation[];
  readonly settings: MutationSettings;
  readonly identity: ResolvedIdentity;
  readonly patch: ReturnType<typeof buildPodPatch>;
}

/** Sets the fixture up exactly as the reference's harness does (see the corpus README). */
function loadFixture(file: string): Fixture {
  // some fixtures repeat a key; the reference's YAML reader keeps the last value, as uniqueKeys: false does
  const pod = parseYaml(readFileSync(file, 'utf8'), { uniqueKeys: false }) as { metadata: { annotations: Record<string, string>; namespace?: string }; spec: Record<string, unknown> };
  const a = pod.metadata.annotations;
  pod.metadata.namespace = 'default';
  pod.spec.serviceAccountName = 'default';
  const saAnnotations: Record<string, string> = {};
  const set = (key: string, value: string | undefined): void => {
    if (value !== undefined) saAnnotations[`eks.amazonaws.com/${key}`] = value;
  };
  set('role-arn', a[`${T}serviceAccount/roleArn`]);
  set('audience', a[`${T}serviceAccount/audience`]);
  set('sts-regional-endpoints', a[`${T}serviceAccount/sts-regional-endpoints`] ?? a[`${T}handler/injectSTS`]);
  set('token-expiration', a[`${T}serviceAccount/token-expiration`] ?? a[`${T}handler/expiration`]);
  const defaults: IdentityDefaults = {
    annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false,
    tokenExpirationSeconds: 86_400, injectRoleSessionName: false,
  };
  const ccUri = a[`${T}containercredentials/uri`];
  const settings: MutationSettings = {
    annotationPrefix: 'eks.amazonaws.com',
    region: a[`${T}handler/region`] ?? '',
    webIdentity: { volumeName: 'aws-iam-token', tokenPath: 'token', mountPath: a[`${T}handler/mountPath`] ?? '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
    containerCredentials: {
      fullUri: ccUri ?? '', audience: a[`${T}containercredentials/audience`] ?? '', mountPath: a[`${T}containercredentials/mountPath`] ?? '',
      volumeName: a[`${T}containercredentials/volumeName`] ?? '', tokenPath: a[`${T}containercredentials/tokenPath`] ?? '',
    },
    random: () => 0,
  };
  const identity = resolveIdentity({
    namespace: 'default', serviceAccountName: 'default',
    serviceAccount: parseServiceAccountAnnotations(saAnnotations, defaults),
    mapping: IdentityMapping.empty,
    containerCredentials: ccUri ? new ContainerCredentialsConfig(new Set(['default/default'])) : ContainerCredentialsConfig.empty,
    defaults,
  });
  assert.ok(identity, `${file}: every fixture resolves an identity`);
  return {
    name: path.relative(CORPUS, file),
    pod,
    expectedPatch: JSON.parse(a[`${T}expectedPatch`] ?? '[]') as fastJsonPatch.Operation[],
    settings,
    identity,
    patch: buildPodPatch({ pod, overrides: applyPodOverrides(pod, identity, settings.annotationPrefix) }, settings),
  };
}

const apply = (doc: unknown, ops: readonly unknown[]): Record<string, unknown> =>
  fastJsonPatch.applyPatch(structuredClone(doc), structuredClone(ops) as fastJsonPatch.Operation[], true, false).newDocument as Record<string, unknown>;

/** The corpus README's normalisation: drop `resources: {}` and null-valued keys (key order never matters here). */
function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (val === null) continue;
    if (k === 'resources' && typeof val === 'object' && Object.keys(val).length === 0) continue;
    out[k] = normalise(val);
  }
  return out;
}

/** kube-irsa's one addition the reference does not make: the record of what was injected. */
function withoutInjectedAnnotation(pod: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(pod) as { metadata: { annotations: Record<string, string> } };
  delete copy.metadata.annotations[INJECTED_ANNOTATION];
  return copy;
}

const fixtures = fixtureFiles(CORPUS).map(loadFixture);
const LOSSY = new Set(['rawPodHasVolumeMount.pod.yaml', 'rawPodWithGRPC.pod.yaml']);

describe('reference webhook fixtures', () => {
  test('the corpus holds the 24 fixtures', () => assert.equal(fixtures.length, 24));

  for (const f of fixtures.filter((x) => !LOSSY.has(x.name))) {
    test(`${f.name}: same resulting pod as the reference`, () => {
      const expected = normalise(apply(f.pod, f.expectedPatch));
      const actual = normalise(withoutInjectedAnnotation(apply(f.pod, f.patch.patch)));
      assert.deepEqual(actual, expected);
    });
  }

  test('every patch is made of small add operations only', () => {
    for (const f of fixtures) {
      for (const op of f.patch.patch) {
        assert.equal(op.op, 'add');
        assert.notEqual(op.path, '/spec/containers', `${f.name} never replaces the containers array`);
        assert.notEqual(op.path, '/spec/initContainers', `${f.name} never replaces the init containers array`);
      }
    }
  });

  test('a second pass over every result changes nothing', () => {
    for (const f of fixtures) {
      const once = apply(f.pod, f.patch.patch);
      const again = buildPodPatch({ pod: once, overrides: applyPodOverrides(once, f.identity, f.settings.annotationPrefix) }, f.settings);
      assert.deepEqual(again.patch, [], `${f.name}: reinvocation yields an empty patch`);
    }
  });

  test('rawPodHasVolumeMount: the user\'s mount is kept as written (the reference drops its unknown `path` and adds mountPath "")', () => {
    const f = fixtures.find((x) => x.name === 'rawPodHasVolumeMount.pod.yaml')!;
    const expected = apply(f.pod, f.expectedPatch) as { spec: { containers: Array<{ volumeMounts: unknown[] }> } };
    const actual = withoutInjectedAnnotation(apply(f.pod, f.patch.patch)) as { spec: { containers: Array<{ volumeMounts: unknown[] }> } };
    assert.deepEqual(expected.spec.containers[0]!.volumeMounts, [{ name: 'aws-iam-token', mountPath: '' }], 'the reference\'s lossy result');
    assert.deepEqual(actual.spec.containers[0]!.volumeMounts, [{ name: 'aws-iam-token', path: '/path/to/token' }], 'kube-irsa keeps the input');
    // everything else is identical
    expected.spec.containers[0]!.volumeMounts = actual.spec.containers[0]!.volumeMounts;
    assert.deepEqual(normalise(actual), normalise(expected));
  });

  test('rawPodWithGRPC: the grpc probe is kept as written (the reference adds "service": null)', () => {
    const f = fixtures.find((x) => x.name === 'rawPodWithGRPC.pod.yaml')!;
    const expected = apply(f.pod, f.expectedPatch) as { spec: { containers: Array<{ readinessProbe: unknown }> } };
    const actual = withoutInjectedAnnotation(apply(f.pod, f.patch.patch)) as { spec: { containers: Array<{ readinessProbe: unknown }> } };
    assert.deepEqual(expected.spec.containers[0]!.readinessProbe, { grpc: { port: 5000, service: null } });
    assert.deepEqual(actual.spec.containers[0]!.readinessProbe, { grpc: { port: 5000 } });
    assert.deepEqual(normalise(actual), normalise(expected));
  });

  test('the injected annotation records the mode, role and audience', () => {
    const f = fixtures.find((x) => x.name === 'rawPodWithoutVolumes.pod.yaml')!;
    const pod = apply(f.pod, f.patch.patch) as { metadata: { annotations: Record<string, string> } };
    assert.deepEqual(JSON.parse(pod.metadata.annotations[INJECTED_ANNOTATION]!), {
      mode: 'web-identity', roleArn: 'arn:aws:iam::111122223333:role/s3-reader', audience: 'sts.amazonaws.com', source: 'service-account',
    });
  });
});
