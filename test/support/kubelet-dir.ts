// A kubelet pod-volume directory as the kubelet lays it out, for the agent's `kubelet` token source:
// <root>/pods/<uid>/volumes/kubernetes.io~projected/<volume>/{..<timestamp>/token, ..data -> ..<timestamp>, token -> ..data/token}
import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

let generation = 0;

export async function writeProjectedToken(root: string, podUid: string, volumeName: string, file: string, token: string): Promise<string> {
  const dir = path.join(root, 'pods', podUid, 'volumes', 'kubernetes.io~projected', volumeName);
  await mkdir(dir, { recursive: true });
  const stamp = `..2026_11_26_00_00_00.${String(++generation).padStart(8, '0')}`;
  await mkdir(path.join(dir, stamp));
  await writeFile(path.join(dir, stamp, file), token, { mode: 0o600 });
  await symlink(stamp, path.join(dir, '..data_tmp'));
  const previous = await readlink(path.join(dir, '..data')).catch(() => undefined);
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  if (previous) await rm(path.join(dir, previous), { recursive: true, force: true });
  else await symlink(path.join('..data', file), path.join(dir, file));
  return path.join(dir, file);
}
