// The app as the image ships it (Dockerfile): the product built to JavaScript by tsconfig.build.json,
// the launcher beside it, node_modules linked. Benchmarks measure this form, not the checkout.
import { execFile } from 'node:child_process';
import { copyFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.join(import.meta.dirname, '..', '..');

/** Builds into `dir` (replacing it) and returns the path of its `kube-irsa` launcher. */
export async function buildApp(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', dir], { cwd: ROOT });
  const cli = path.join(dir, 'bin', 'kube-irsa');
  await copyFile(path.join(ROOT, 'bin', 'kube-irsa'), cli);
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return cli;
}
