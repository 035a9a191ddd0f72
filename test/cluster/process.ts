// Child processes for the test control plane: output goes to a log file, and each child is tied to
// this process so that it dies with it, even when this process is killed with SIGKILL and has no
// chance to clean up (a guard shell polls our pid and stops the child when we are gone).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  isRunning(): boolean;
}

// $1 = parent pid, then the command. The guard exits with the child's status.
const GUARD = `
parent=$1; shift
"$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null' TERM INT
( while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
  kill -TERM "$child" 2>/dev/null; sleep 5; kill -KILL "$child" 2>/dev/null ) &
watcher=$!
wait $child; status=$?
# wait returns early when a trapped signal arrives: wait again for the child's real end
while kill -0 $child 2>/dev/null; do wait $child; status=$?; done
kill $watcher 2>/dev/null
exit $status
`;

export function startProcess(name: string, command: string, args: readonly string[], opts: {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): ManagedProcess {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('bash', ['-c', GUARD, 'guard', String(process.pid), command, ...args], {
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      // its own process group, so the last-resort SIGKILL reaches the guard, the binary and the watcher
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
  let running = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', () => {
      running = false;
      resolve('spawn-error');
    });
  });
  return {
    name,
    pid: child.pid ?? -1,
    logFile: opts.logFile,
    exited,
    isRunning: () => running,
    async stop(graceMs = 10_000) {
      if (!running) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid ?? 0), 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A process's resident memory in MiB, as the kernel reports it (throws once it has ended). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** Pids of live processes whose command line mentions `needle` (used to prove a clean stop). */
export async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/** Whether a process exists (EPERM: it does, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const OWNER_FILE = 'owner.pid';

/**
 * Marks a run folder as this process's, written whole (then renamed): another process sweeping
 * abandoned folders must never read a half-written owner as a dead one and remove the folder.
 */
export async function writeOwnerFile(dir: string): Promise<void> {
  await writeFile(path.join(dir, `${OWNER_FILE}.tmp`), String(process.pid));
  await rename(path.join(dir, `${OWNER_FILE}.tmp`), path.join(dir, OWNER_FILE));
}

/** The pid that owns a run folder, or 0 when it names none. */
export async function ownerOf(dir: string): Promise<number> {
  const owner = Number(await readFile(path.join(dir, OWNER_FILE), 'utf8').catch(() => '0'));
  return Number.isInteger(owner) && owner > 0 ? owner : 0;
}
