// The pieces of scripts/prune-client-models.ts on client-node's real generated sources: type
// expressions unfold as ObjectSerializer unfolds them, roots come from the literal types passed to
// serialize/deserialize, the closure follows attribute types, and what it cannot know fails the build.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Metafile } from 'esbuild';
import { assertNoOwnSerializerCalls, prunedSource, reachableModels, readRegistry, serializerRoots, typeNames } from '../../scripts/prune-client-models.ts';

const SERIALIZER = createRequire(import.meta.url).resolve('@kubernetes/client-node/dist/gen/models/ObjectSerializer.js');
const MODELS = path.dirname(SERIALIZER);
const API_FILE = 'node_modules/@kubernetes/client-node/dist/gen/apis/ExampleApi.js';

describe('prune-client-models', () => {
  const registry = readRegistry(readFileSync(SERIALIZER, 'utf8'));

  test('reads the whole registry', () => {
    assert.ok(registry.registered.size > 500, `${registry.registered.size} models`);
    assert.equal(registry.imports.size, registry.registered.size);
    for (const name of ['V1Pod', 'V1ListMeta', 'CoreV1Event', 'AuthenticationV1TokenRequest']) assert.ok(registry.registered.has(name), name);
  });

  test('unfolds type expressions like ObjectSerializer', () => {
    assert.deepEqual(typeNames('Array<V1Pod>'), ['V1Pod']);
    assert.deepEqual(typeNames('{ [key: string]: Array<V1Volume>; }'), ['V1Volume']);
    assert.deepEqual(typeNames('V1Pod | null'), ['V1Pod']);
    assert.deepEqual(typeNames('Date'), []);
    assert.deepEqual(typeNames('{ [key: string]: string; }'), []);
    assert.deepEqual(typeNames('String'), [], 'primitives compare in lower case');
  });

  test('roots are the literal types an API passes; wrappers add their attribute maps', () => {
    const api = 'const a = ObjectSerializer.deserialize(ObjectSerializer.parse(t, c), "V1PodList", ""); ObjectSerializer.serialize(b, "Array<V1Secret>", "");';
    assert.deepEqual(serializerRoots(api, API_FILE).sort(), ['Array<V1Secret>', 'V1PodList']);
    const wrapper = "class K {} K.attributeTypeMap = [{ name: 'metadata', baseName: 'metadata', type: 'V1ObjectMeta', format: '' }]; const q = { type: 'exec' }; I.serialize(x, t);";
    assert.deepEqual(serializerRoots(wrapper, 'node_modules/@kubernetes/client-node/dist/serializer.js'), ['V1ObjectMeta']);
  });

  test('a computed type fails the build, except in the wrapper that forwards its callers\' types', () => {
    assert.throws(() => serializerRoots('ObjectSerializer.deserialize(x, typeName, "")', API_FILE), /ExampleApi\.js passes a computed type to ObjectSerializer\.deserialize/);
    assert.throws(() => serializerRoots('ObjectSerializer.deserialize(x, `V1${kind}`)', 'node_modules/@kubernetes/client-node/dist/object.js'), /object\.js passes a computed type/);
    assert.deepEqual(serializerRoots('InternalSerializer.deserialize(data, type, format)', 'node_modules/@kubernetes/client-node/dist/serializer.js'), []);
  });

  test('kube-irsa\'s own code calling the serializer fails the build', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-prune-'));
    try {
      await writeFile(path.join(dir, 'own.ts'), 'ObjectSerializer.deserialize(x, "V1Deployment", "");\n');
      await writeFile(path.join(dir, 'probe.ts'), "export { ObjectSerializer } from '@kubernetes/client-node';\n");
      const meta = (inputs: string[]): Metafile => ({ inputs: {}, outputs: { 'out.js': { bytes: 1, imports: [], exports: [], inputs: Object.fromEntries(inputs.map((i) => [i, { bytesInOutput: 1 }])) } } });
      assert.doesNotThrow(() => assertNoOwnSerializerCalls(dir, meta(['probe.ts'])));
      assert.throws(() => assertNoOwnSerializerCalls(dir, meta(['probe.ts', 'own.ts'])), /own\.ts calls client-node's ObjectSerializer itself/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a root type the registry does not have fails the build', () => {
    assert.throws(() => reachableModels(registry, MODELS, [{ type: 'Array<V1NoSuchThing>', from: API_FILE }]),
      /ExampleApi\.js \(de\)serializes "Array<V1NoSuchThing>", but "V1NoSuchThing" is not a model/);
  });

  test('the closure follows attribute types, and the pruned source registers exactly it', () => {
    const keep = reachableModels(registry, MODELS, [{ type: 'V1PodList', from: API_FILE }]);
    for (const name of ['V1PodList', 'V1ListMeta', 'V1Pod', 'V1ObjectMeta', 'V1ManagedFieldsEntry', 'V1PodSpec', 'V1Container', 'V1ResourceRequirements', 'V1Probe', 'V1HTTPGetAction', 'V1PodStatus']) {
      assert.ok(keep.has(name), name);
    }
    assert.ok(!keep.has('V1Deployment') && !keep.has('V1ServiceAccount'), 'nothing unreachable');
    const pruned = readRegistry(prunedSource(registry, keep));
    assert.deepEqual([...pruned.registered].sort(), [...keep].sort());
    assert.deepEqual([...pruned.imports.keys()].sort(), [...keep].sort());
  });
});
