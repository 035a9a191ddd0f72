// @kubernetes/client-node's generated ObjectSerializer imports every one of its ~760 model classes
// and registers it in `typeMap`, so tree-shaking keeps them all although kube-irsa (de)serializes a
// few dozen. This plugin rewrites ObjectSerializer.js at bundle time to register only the models
// reachable from what the bundle calls: the roots are the type names that the client-node modules in
// a first pass's output (the generated API classes kube-irsa uses, the Watch, the serializer
// wrapper) pass to ObjectSerializer.serialize/deserialize; the closure follows each model's
// attributeTypeMap (Array<X>, { [key: string]: X; }). Every kept type (de)serializes exactly as
// before, since everything it can reach is kept; the rest is dropped and tree-shaken away.
// Measured (Node 24, client-node 2.0.1, kube-irsa calling CoreV1Api and CustomObjectsApi): 243 of
// 757 models kept; the client-node chunk 2,156 -> 1,926 KiB; a process importing just that chunk
// (and the chunks it imports), after GC, with the launcher's malloc settings: V8 heap +7.9 -> +6.5
// MiB, RSS +24.6 -> +22.2 MiB (medians of 7). The typed API classes left (CoreV1Api's 206 methods in
// four layers, ~650 KiB) cost ~1 MiB of heap and ~3.5 MiB resident; undici is ~720 KiB of the chunk.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse } from 'acorn';
import { simple } from 'acorn-walk';
import type { Metafile, Plugin } from 'esbuild';

const CLIENT_DIST = /(?:^|\/)node_modules\/@kubernetes\/client-node\/dist\//;
const SERIALIZER_FILE = /node_modules[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]models[\\/]ObjectSerializer\.js$/;
/** The names ObjectSerializer treats as plain values (its `primitives`, compared in lower case), and Date. */
const PLAIN = new Set(['string', 'boolean', 'double', 'integer', 'long', 'float', 'number', 'any', 'date']);

/** ObjectSerializer.js's registry, read from its source. */
export interface ModelRegistry {
  source: string;
  /** model name -> its module, relative to ObjectSerializer.js */
  imports: Map<string, string>;
  /** the names registered in typeMap */
  registered: Set<string>;
  enums: Set<string>;
}

export function readRegistry(source: string): ModelRegistry {
  const imports = new Map<string, string>();
  for (const [, name = '', module = ''] of source.matchAll(/^import \{ (\w+) \} from '(\.\.\/models\/\w+\.js)';$/gm)) imports.set(name, module);
  const typeMap = /^let typeMap = \{\n([\s\S]*?)^\};$/m.exec(source);
  const enumsMap = /^let enumsMap = new Set\(\[([\s\S]*?)\]\);$/m.exec(source);
  if (!typeMap || !enumsMap || imports.size === 0) throw new Error('prune-client-models: ObjectSerializer.js no longer has the shape this plugin rewrites (imports, enumsMap, typeMap); update scripts/prune-client-models.ts');
  const registered = new Set([...(typeMap[1] ?? '').matchAll(/^ {4}"(\w+)": \w+,?$/gm)].map(([, name = '']) => name));
  const enums = new Set([...(enumsMap[1] ?? '').matchAll(/"(\w+)"/g)].map(([, name = '']) => name));
  return { source, imports, registered, enums };
}

/** The model names in a type expression as ObjectSerializer unfolds it (`X | null`, Array<X>, maps). */
export function typeNames(type: string): string[] {
  for (const suffix of [' | null', ' | undefined']) if (type.endsWith(suffix)) return typeNames(type.slice(0, -suffix.length));
  if (type.startsWith('Array<') && type.endsWith('>')) return typeNames(type.slice('Array<'.length, -1));
  if (type.startsWith('{ [key: string]: ') && type.endsWith('; }')) return typeNames(type.slice('{ [key: string]: '.length, -'; }'.length));
  return PLAIN.has(type.toLowerCase()) ? [] : [type];
}

/** client-node's serializer wrapper: it forwards its callers' types (checked in them) and its KubernetesObject's. */
const FORWARDS_TYPES = /\/client-node\/dist\/serializer\.js$/;

/**
 * The type expressions `source` passes to ObjectSerializer.serialize/deserialize (under any import
 * name), plus the `type` of attribute maps written outside the generated code (client-node's
 * KubernetesObject). Only the wrapper may pass a computed type: elsewhere the roots are unknowable.
 */
export function serializerRoots(source: string, file: string): string[] {
  const roots: string[] = [];
  const generated = /\/gen\//.test(file);
  const forwards = FORWARDS_TYPES.test(file.replaceAll('\\', '/'));
  simple(parse(source, { ecmaVersion: 'latest', sourceType: 'module' }), {
    CallExpression(call) {
      const callee = call.callee;
      if (callee.type !== 'MemberExpression' || callee.property.type !== 'Identifier') return;
      if (!['serialize', 'deserialize'].includes(callee.property.name) || callee.object.type !== 'Identifier' || !/Serializer$/.test(callee.object.name)) return;
      const type = call.arguments[1];
      if (type?.type === 'Literal' && typeof type.value === 'string') roots.push(type.value);
      else if (!forwards) throw new Error(`prune-client-models: ${file} passes a computed type to ObjectSerializer.${callee.property.name} (offset ${call.start}); its models cannot be known at build time`);
    },
    ObjectExpression(object) {
      if (generated) return;
      const entries = new Map(object.properties.flatMap((p) => (p.type === 'Property' && p.key.type === 'Identifier' ? [[p.key.name, p.value] as const] : [])));
      const type = entries.get('type');
      if (entries.has('baseName') && type?.type === 'Literal' && typeof type.value === 'string') roots.push(type.value);
    },
  });
  return roots;
}

/** The client-node modules (outside the models) that contribute code to `meta`'s outputs. */
export function clientCallers(meta: Metafile): string[] {
  const callers = new Set<string>();
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (bytesInOutput > 0 && CLIENT_DIST.test(input) && input.endsWith('.js') && !/\/gen\/models\//.test(input)) callers.add(input);
    }
  }
  return [...callers].sort();
}

/** Throws if kube-irsa's own bundled code calls the serializer itself: its types would not be roots. */
export function assertNoOwnSerializerCalls(root: string, meta: Metafile): void {
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (bytesInOutput === 0 || input.split(/[\\/]/).includes('node_modules') || !/\.[cm]?[jt]s$/.test(input)) continue;
      if (/\bObjectSerializer\s*\.\s*(?:de)?serialize\s*\(/.test(readFileSync(path.join(root, input), 'utf8'))) {
        throw new Error(`prune-client-models: ${input} calls client-node's ObjectSerializer itself; teach scripts/prune-client-models.ts its types, or go through a typed API`);
      }
    }
  }
}

/** The registered models reachable from `roots` through attributeTypeMaps; throws on a root it cannot find. */
export function reachableModels(registry: ModelRegistry, modelsDir: string, roots: Array<{ type: string; from: string }>): Set<string> {
  const keep = new Set<string>();
  const pending: string[] = [];
  for (const { type, from } of roots) {
    for (const name of typeNames(type)) {
      if (registry.enums.has(name)) continue;
      if (!registry.registered.has(name)) throw new Error(`prune-client-models: ${from} (de)serializes "${type}", but "${name}" is not a model in client-node's ObjectSerializer`);
      pending.push(name);
    }
  }
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (keep.has(name)) continue;
    keep.add(name);
    const module = registry.imports.get(name);
    if (!module) throw new Error(`prune-client-models: model ${name} is registered but not imported by ObjectSerializer.js`);
    const text = readFileSync(path.join(modelsDir, module), 'utf8');
    // polymorphic models resolve to types named in the data: not supported (client-node 2.x has none)
    if (!/\.discriminator = undefined;/.test(text) || !/\.mapping = undefined;/.test(text)) throw new Error(`prune-client-models: model ${name} has a discriminator; teach scripts/prune-client-models.ts its mapping`);
    for (const [, type = ''] of text.matchAll(/^ {8}"type": "([^"]*)",?$/gm)) {
      // names the full registry does not know pass through unchanged either way (IntOrString, V1MicroTime)
      for (const n of typeNames(type)) if (registry.registered.has(n)) pending.push(n);
    }
  }
  return keep;
}

/** ObjectSerializer.js importing and registering only `keep`. */
export function prunedSource(registry: ModelRegistry, keep: Set<string>): string {
  const dropped = (name: string) => registry.imports.has(name) && !keep.has(name);
  return registry.source
    .replace(/^import \{ (\w+) \} from '\.\.\/models\/\w+\.js';\n/gm, (line, name: string) => (dropped(name) ? '' : line))
    .replace(/^let typeMap = \{\n[\s\S]*?^\};$/m, (typeMap) => typeMap.replace(/^ {4}"(\w+)": \w+,?\n/gm, (line, name: string) => (dropped(name) ? '' : line)));
}

export interface Pruning {
  plugin: Plugin;
  kept: number;
  registered: number;
}

/**
 * The plugin for the real build, given the metafile of a first pass over the same entry points
 * (which client-node modules survive tree-shaking does not depend on the models).
 */
export function pruneClientModels(root: string, firstPass: Metafile): Pruning {
  const callers = clientCallers(firstPass);
  if (callers.length === 0) throw new Error('prune-client-models: the first pass bundled no @kubernetes/client-node module');
  assertNoOwnSerializerCalls(root, firstPass);
  const serializerFile = createRequire(path.join(root, 'package.json')).resolve('@kubernetes/client-node/dist/gen/models/ObjectSerializer.js');
  const registry = readRegistry(readFileSync(serializerFile, 'utf8'));
  const roots = callers.flatMap((file) => serializerRoots(readFileSync(path.join(root, file), 'utf8'), file).map((type) => ({ type, from: file })));
  const keep = reachableModels(registry, path.dirname(serializerFile), roots);
  const contents = prunedSource(registry, keep);
  return {
    kept: keep.size,
    registered: registry.registered.size,
    plugin: {
      name: 'prune-client-models',
      setup(build) {
        build.onLoad({ filter: SERIALIZER_FILE }, (args) => (path.resolve(args.path) === path.resolve(serializerFile) ? { contents, loader: 'js' } : undefined));
        // a model module only defines its class (and sets the class's static fields, which esbuild
        // counts as side effects): unreferenced, it may go, even though all.js re-exports it
        build.onResolve({ filter: /^\.\.\/models\/\w+\.js$/ }, (args) => {
          if (!CLIENT_DIST.test(args.importer.replaceAll('\\', '/')) || args.path === '../models/ObjectSerializer.js') return undefined;
          return { path: path.resolve(args.resolveDir, args.path), sideEffects: false };
        });
      },
    },
  };
}
