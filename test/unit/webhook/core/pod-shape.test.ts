// A pod object that does not decode as a Pod, in any field kube-irsa reads or patches, is named
// precisely; one that does (fields kube-irsa does not know included, nulls for absent) passes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { podShapeProblem } from '../../../../webhook/core/pod-shape.ts';

const good = () => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns', labels: { a: 'b' }, annotations: { 'eks.amazonaws.com/token-expiration': '3600' }, ownerReferences: [{ uid: 1 }] },
  spec: {
    serviceAccountName: 'app', nodeSelector: { 'kubernetes.io/os': 'linux' }, os: { name: 'linux' },
    containers: [{ name: 'c', image: 'x', env: [{ name: 'A', value: 'b' }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'x' } } }], volumeMounts: [{ name: 'v', mountPath: '/v' }], ports: [{ containerPort: 80 }] }],
    volumes: [{ name: 'v', emptyDir: {} }],
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'k', operator: 'In', values: ['a'] }] }] } } },
  },
});

describe('pod shape', () => {
  test('a well-formed pod, unknown fields and nulls included, passes', () => {
    assert.equal(podShapeProblem(good()), undefined);
    const nulls = good() as Record<string, unknown> & { spec: Record<string, unknown> };
    nulls.spec.initContainers = null;
    nulls.spec.volumes = null;
    nulls.metadata = null;
    assert.equal(podShapeProblem(nulls), undefined);
  });
  const cases: Array<[string, (p: ReturnType<typeof good>) => void, string]> = [
    ['metadata as a list', (p) => { (p as { metadata: unknown }).metadata = []; }, 'metadata must be an object, not a list'],
    ['a number as the pod name', (p) => { (p.metadata as { name: unknown }).name = 42; }, 'metadata.name must be a string, not a number'],
    ['a label value that is not a string', (p) => { (p.metadata.labels as Record<string, unknown>).a = true; }, 'metadata.labels["a"] must be a string, not a boolean'],
    ['annotations as a list', (p) => { (p.metadata as { annotations: unknown }).annotations = ['x']; }, 'metadata.annotations must be an object of strings, not a list'],
    ['containers as an object', (p) => { (p.spec as { containers: unknown }).containers = { name: 'c' }; }, 'spec.containers must be a list, not an object'],
    ['a container that is a string', (p) => { (p.spec.containers as unknown[])[0] = 'c'; }, 'spec.containers[0] must be an object, not a string'],
    ['a null container', (p) => { (p.spec.containers as unknown[])[0] = null; }, 'spec.containers[0] must be an object, not null'],
    ['a number as a container name', (p) => { (p.spec.containers[0] as { name: unknown }).name = 7; }, 'spec.containers[0].name must be a string, not a number'],
    ['a number as an env value', (p) => { (p.spec.containers[0]!.env[0] as { value: unknown }).value = 3; }, 'spec.containers[0].env[0].value must be a string, not a number'],
    ['env as an object', (p) => { (p.spec.containers[0] as { env: unknown }).env = { A: 'b' }; }, 'spec.containers[0].env must be a list, not an object'],
    ['a number as a mount path', (p) => { (p.spec.containers[0]!.volumeMounts[0] as { mountPath: unknown }).mountPath = 1; }, 'spec.containers[0].volumeMounts[0].mountPath must be a string, not a number'],
    ['a number as the ServiceAccount name', (p) => { (p.spec as { serviceAccountName: unknown }).serviceAccountName = 1; }, 'spec.serviceAccountName must be a string, not a number'],
    ['a volume name that is a list', (p) => { (p.spec.volumes[0] as { name: unknown }).name = ['v']; }, 'spec.volumes[0].name must be a string, not a list'],
    ['a nodeSelector value that is a number', (p) => { (p.spec.nodeSelector as Record<string, unknown>)['kubernetes.io/os'] = 1; }, 'spec.nodeSelector["kubernetes.io/os"] must be a string, not a number'],
    ['os.name as a number', (p) => { (p.spec.os as { name: unknown }).name = 1; }, 'spec.os.name must be a string, not a number'],
    ['affinity values as a string', (p) => { (p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]!.matchExpressions[0] as { values: unknown }).values = 'windows'; }, 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values must be a list, not a string'],
    ['initContainers as a number', (p) => { (p.spec as Record<string, unknown>).initContainers = 3; }, 'spec.initContainers must be a list, not a number'],
  ];
  for (const [name, breakIt, message] of cases) {
    test(`${name}: named`, () => {
      const p = good();
      breakIt(p);
      assert.equal(podShapeProblem(p), message);
    });
  }
  test('not an object, no spec, spec not an object', () => {
    assert.equal(podShapeProblem('x'), 'expected an object, got a string');
    assert.equal(podShapeProblem([]), 'expected an object, got an array');
    assert.equal(podShapeProblem(undefined), 'expected an object, got nothing');
    assert.equal(podShapeProblem({ metadata: {} }), 'it has no spec');
    assert.equal(podShapeProblem({ spec: [] }), 'spec is not an object');
  });
});
