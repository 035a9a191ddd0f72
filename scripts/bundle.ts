// The product as the image ships it: esbuild bundles each entry point — the CLI and the webhook's
// worker thread — with every dependency into minified ES modules (commands split into chunks loaded
// when used, so `kube-irsa agent` never loads the webhook), with source maps for readable stack
// traces of kube-irsa's own code (the launcher runs them with --enable-source-maps; the maps keep
// only kube-irsa's sources: Node holds every loaded map in memory, and the dependencies' mappings
// cost ~20 MiB per process, measured — their frames show bundle positions). A bundle loads a fraction of the
// memory the same modules cost from node_modules (@kubernetes/client-node: ~80 MiB unbundled;
// README "Benchmarks"), and the image needs no node_modules at all. client-node's serializer
// registers only the models the bundled API calls reach (scripts/prune-client-models.ts: 243 of
// 757; the chunk 230 KiB, ~1.4 MiB of heap and ~2.4 MiB resident smaller), found by a first,
// in-memory pass.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decode, encode, type SourceMapMappings, type SourceMapSegment } from '@jridgewell/sourcemap-codec';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { httpWithoutUndici } from './http-without-undici.ts';
import { pruneClientModels } from './prune-client-models.ts';

const ROOT = path.join(import.meta.dirname, '..');

export interface BundleOptions {
  /** more entry points (name -> source), e.g. a test's probe into the bundled modules */
  extraEntryPoints?: Record<string, string>;
}

/** Bundles into `<outDir>/bin/` (replacing outDir); returns esbuild's metafile. */
export async function bundle(outDir: string, { extraEntryPoints = {} }: BundleOptions = {}): Promise<Metafile> {
  await rm(outDir, { recursive: true, force: true });
  const options = {
    absWorkingDir: ROOT,
    entryPoints: { 'kube-irsa': 'bin/kube-irsa.ts', 'worker-thread': 'webhook/worker-thread.ts', ...extraEntryPoints },
    outdir: path.join(outDir, 'bin'),
    // chunks beside the entries: webhook/workers.ts finds ./worker-thread.js next to itself
    chunkNames: 'chunk-[hash]',
    bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node24',
    minify: true, sourcemap: true, sourcesContent: false, legalComments: 'linked', metafile: true, logLevel: 'warning',
    // CommonJS dependencies call require() for Node's own modules, and a few read __dirname
    banner: {
      js: "import { createRequire as __kiCreateRequire } from 'node:module'; import { fileURLToPath as __kiPath } from 'node:url'; "
        + "const require = __kiCreateRequire(import.meta.url); const __filename = __kiPath(import.meta.url); const __dirname = __kiPath(new URL('.', import.meta.url));",
    },
    // optional native speed-ups of ws that client-node's dependencies try to load; absent is fine
    external: ['bufferutil', 'utf-8-validate'],
  } satisfies BuildOptions;
  // a first pass, in memory, finds the client-node modules the bundle keeps; the second registers
  // only the models they (de)serialize (scripts/prune-client-models.ts)
  const firstPass = await build({ ...options, write: false, minify: false, sourcemap: false });
  const pruning = pruneClientModels(ROOT, firstPass.metafile);
  const result = await build({ ...options, plugins: [pruning.plugin, httpWithoutUndici()] });
  assertLean(result.metafile, path.join(outDir, 'bin'));
  await keepOwnMappings(path.join(outDir, 'bin'));
  // the bundles are ES modules: say so, as the project's package.json does
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'package.json'), `${JSON.stringify({ name: 'kube-irsa', private: true, type: 'module' })}\n`);
  return result.metafile;
}

/**
 * What the memory budget rests on, checked at every build:
 * - the worker thread's graph never reaches the API client (each isolate that evaluates
 *   @kubernetes/client-node and undici pays ~25 MiB; only the main thread talks to the API server);
 * - the output is ASCII: one character above U+007F anywhere in a chunk (esbuild leaves them in
 *   regular expressions) makes Node hold that chunk's whole source as UTF-16, twice its size.
 */
function assertLean(meta: Metafile, binDir: string): void {
  const outputs = meta.outputs;
  const workerOutput = Object.keys(outputs).find((f) => path.resolve(ROOT, f) === path.join(binDir, 'worker-thread.js'));
  if (!workerOutput) throw new Error('bundle: no worker-thread.js in the output');
  const seen = new Set<string>();
  const pending = [workerOutput];
  for (let f = pending.pop(); f !== undefined; f = pending.pop()) {
    if (seen.has(f)) continue;
    seen.add(f);
    for (const imp of outputs[f]?.imports ?? []) if (imp.kind === 'import-statement' && !imp.external) pending.push(imp.path);
  }
  const apiClient = [...seen].flatMap((f) => Object.keys(outputs[f]?.inputs ?? {})).filter((i) => /node_modules\/(@kubernetes\/client-node|undici)\//.test(i));
  if (apiClient.length > 0) throw new Error(`bundle: the webhook's worker thread loads the API client (${apiClient[0]}, ${apiClient.length} modules); keep it to the main thread`);
  for (const [f, o] of Object.entries(outputs)) {
    if (!f.endsWith('.js')) continue;
    const text = readFileSync(path.resolve(ROOT, f), 'utf8');
    let at = -1;
    for (let i = 0; i < text.length && at < 0; i++) if (text.charCodeAt(i) > 0x7f) at = i;
    if (at >= 0) throw new Error(`bundle: ${path.basename(f)} is not ASCII at offset ${at} (…${text.slice(Math.max(0, at - 60), at + 10)}…); escape it in the source (from ${Object.keys(o.inputs).length} inputs)`);
  }
}

interface SourceMap {
  sources: string[];
  names: string[];
  mappings: string;
  sourcesContent?: unknown;
}

/** Drops the mappings into dependencies from every map in `dir`; a map with none of kube-irsa's sources goes entirely. */
async function keepOwnMappings(dir: string): Promise<void> {
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.js.map'))) {
    const mapFile = path.join(dir, file);
    const map = JSON.parse(await readFile(mapFile, 'utf8')) as SourceMap;
    const own = map.sources.map((s) => !s.split(/[\\/]/).includes('node_modules'));
    const newIndex = new Map<number, number>();
    const sources: string[] = [];
    map.sources.forEach((s, i) => {
      if (own[i]) {
        newIndex.set(i, sources.length);
        sources.push(s);
      }
    });
    if (sources.length === 0) {
      await rm(mapFile);
      const js = path.join(dir, file.slice(0, -'.map'.length));
      await writeFile(js, (await readFile(js, 'utf8')).replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
      continue;
    }
    const mappings: SourceMapMappings = decode(map.mappings).map((line) => line.flatMap((seg): SourceMapSegment[] => {
      if (seg.length === 1 || !own[seg[1]]) return [];
      const source = newIndex.get(seg[1]) ?? 0;
      return [seg.length === 5 ? [seg[0], source, seg[2], seg[3], seg[4]] : [seg[0], source, seg[2], seg[3]]];
    }));
    await writeFile(mapFile, JSON.stringify({ ...map, sources, mappings: encode(mappings) }));
  }
}

if (import.meta.main) {
  const out = process.argv[2] ?? path.join(ROOT, 'build', 'app');
  const meta = await bundle(out);
  const models = Object.values(meta.outputs).flatMap((o) => Object.entries(o.inputs)).filter(([i, o]) => o.bytesInOutput > 0 && /client-node\/dist\/gen\/models\/(?!ObjectSerializer)\w+\.js$/.test(i)).length;
  process.stdout.write(`@kubernetes/client-node models bundled: ${models}\n`);
  const sizes = Object.entries(meta.outputs).filter(([f]) => f.endsWith('.js')).map(([f, o]) => `${path.relative(ROOT, f)} ${(o.bytes / 1024).toFixed(0)} KiB`);
  process.stdout.write(`bundled into ${out}:\n  ${sizes.join('\n  ')}\n`);
}
