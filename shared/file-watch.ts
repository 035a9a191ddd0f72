// Notices when files change, including the way Kubernetes updates Secret and ConfigMap volumes
// (a `..data` symlink swapped atomically in the parent folder): fs.watch on each parent folder for
// a quick reaction, plus a periodic stat of each path (following symlinks) because fs.watch can
// miss events on some filesystems. Changes are debounced into one callback.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

export interface FileWatchOptions {
  readonly pollIntervalMs?: number;
  readonly debounceMs?: number;
  readonly onError?: (err: Error) => void;
}

export interface FileWatch {
  close(): void;
}

async function fingerprint(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export function watchFiles(files: readonly string[], onChange: () => void, opts: FileWatchOptions = {}): FileWatch {
  const prints = new Map<string, string>();
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;
  const fire = (): void => {
    if (closed) return;
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(() => void check(), opts.debounceMs ?? 100);
  };
  async function check(): Promise<void> {
    let changed = false;
    for (const f of files) {
      const p = await fingerprint(f);
      if (prints.get(f) !== p) {
        changed = prints.has(f) || changed;
        prints.set(f, p);
      }
    }
    if (changed && !closed) onChange();
  }
  void check();
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(files.map((f) => path.dirname(f)))) {
    try {
      const w = watch(dir, { persistent: false }, fire);
      w.on('error', (err) => opts.onError?.(err));
      watchers.push(w);
    } catch (err) {
      opts.onError?.(err as Error); // the folder may appear later; polling covers it
    }
  }
  const poll = setInterval(() => void check(), opts.pollIntervalMs ?? 5_000);
  poll.unref();
  return {
    close() {
      closed = true;
      clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      for (const w of watchers) w.close();
    },
  };
}
