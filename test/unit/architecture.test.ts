// The shape docs/architecture.md describes, checked: no import cycle among the product's modules
// (type-only imports included: a cycle is a cycle for the reader), and no file in agent/ that has
// grown past a size one can hold in mind.
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..', '..');
const files = ['agent', 'shared', 'webhook', 'bin'].flatMap((dir) => globSync(`${dir}/**/*.ts`, { cwd: root })).sort();
const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+\.ts)'/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => path.normalize(path.join(path.dirname(file), m[1]!)));
}

test('the product modules import each other without a cycle', () => {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, trail: string[]): void => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(file)), file].join(' → '));
      return;
    }
    state.set(file, 'open');
    for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
    state.set(file, 'done');
  };
  for (const f of files) visit(f, []);
  assert.ok(files.length > 50, 'the walk found the sources');
  assert.deepEqual(cycles, []);
});

test('no file in agent/ is over 250 lines', () => {
  const long = files.filter((f) => f.startsWith('agent/')).map((f) => ({ f, lines: readFileSync(path.join(root, f), 'utf8').split('\n').length })).filter((x) => x.lines > 250);
  assert.deepEqual(long, []);
});
