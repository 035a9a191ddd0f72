// Applies the `add` operations the mutation emits (RFC 6902 `add` only), without touching the input.
// `kube-irsa mutate --output pod` uses it; the tests check it against a full RFC 6902 library.
import type { JsonPatchOperation } from './patch.ts';

const unescape = (segment: string): string => segment.replace(/~1/g, '/').replace(/~0/g, '~');

export function applyAddPatch<T>(doc: T, patch: readonly JsonPatchOperation[]): T {
  const root = structuredClone(doc) as unknown;
  for (const op of patch) {
    if (op.op !== 'add') throw new Error(`unsupported operation ${String(op.op)}`);
    const segments = op.path.split('/').slice(1).map(unescape);
    const last = segments.pop();
    if (last === undefined) throw new Error(`cannot add at the document root (${op.path})`);
    let target = root;
    for (const s of segments) {
      const next: unknown = Array.isArray(target) ? target[Number(s)] : (target as Record<string, unknown> | null)?.[s];
      if (typeof next !== 'object' || next === null) throw new Error(`path ${op.path}: "${s}" does not exist`);
      target = next;
    }
    const value = structuredClone(op.value);
    if (Array.isArray(target)) {
      const index = last === '-' ? target.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > target.length) throw new Error(`path ${op.path}: index out of range`);
      target.splice(index, 0, value);
    } else if (typeof target === 'object' && target !== null) {
      (target as Record<string, unknown>)[last] = value;
    } else {
      throw new Error(`path ${op.path}: parent is not a container`);
    }
  }
  return root as T;
}
