// The app as the image ships it (Dockerfile): the product bundled by scripts/bundle.ts (one minified
// ES module per entry point, chunks and source maps, no dependency installed), the launcher beside
// it and Node 24 where the launcher looks for it.
// Benchmarks measure this form, not the checkout.
import { copyFile, mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { bundle } from '../../scripts/bundle.ts';

const ROOT = path.join(import.meta.dirname, '..', '..');

/** Builds into `dir` (replacing it) and returns the path of its `kube-irsa` launcher. */
export async function buildApp(dir: string): Promise<string> {
  await bundle(dir);
  const cli = path.join(dir, 'bin', 'kube-irsa');
  await copyFile(path.join(ROOT, 'bin', 'kube-irsa'), cli);
  // only Node itself (the image's base provides it), for the launcher: no package to import from
  await mkdir(path.join(dir, 'node_modules'));
  await symlink(path.join(ROOT, 'node_modules', 'node'), path.join(dir, 'node_modules', 'node'));
  return cli;
}
