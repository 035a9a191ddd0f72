// What a real-node run may change on the machine, captured before and after: mounts, cgroups,
// network interfaces, packet-filter rules, the kubelet's sysctls and processes left in the
// cluster's namespaces. A machine that cannot be cleaned between runs is lost, so the suite
// compares the two and fails on any difference.
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The sysctls the kubelet sets at start (and never puts back). */
export const KUBELET_SYSCTLS = ['vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops'] as const;

export interface MachineState {
  readonly mounts: readonly string[];
  readonly cgroups: readonly string[];
  readonly links: readonly string[];
  readonly rules: string;
  readonly sysctls: Readonly<Record<string, string>>;
}

export async function readSysctls(): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  for (const key of KUBELET_SYSCTLS) values[key] = (await readFile(`/proc/sys/${key}`, 'utf8')).trim();
  return values;
}

export async function restoreSysctls(values: Readonly<Record<string, string>>): Promise<void> {
  for (const [key, value] of Object.entries(values)) {
    if (!(KUBELET_SYSCTLS as readonly string[]).includes(key)) continue;
    await writeFile(`/proc/sys/${key}`, value).catch(() => undefined);
  }
}

export async function snapshotMachine(): Promise<MachineState> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).trim().split('\n')
    .map((l) => l.split(' ').slice(0, 3).join(' ')).sort();
  const cgroups = (await run('find', ['/sys/fs/cgroup', '-mindepth', '2', '-maxdepth', '2', '-type', 'd'], { maxBuffer: 16 * 1024 * 1024 }))
    .stdout.trim().split('\n').filter(Boolean).sort();
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout.trim().split('\n')
    .map((l) => l.split(':')[1]?.trim() ?? l).sort();
  return { mounts, cgroups, links, rules: await packetFilterRules(), sysctls: await readSysctls() };
}

/** iptables and nftables rules of the machine's own namespace, or why there can be none. */
async function packetFilterRules(): Promise<string> {
  for (const [cmd, args] of [['iptables-save', []], ['nft', ['list', 'ruleset']]] as const) {
    try {
      return (await run(cmd, [...args])).stdout.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return '(neither iptables-save nor nft is installed: no rule can have been added with them)';
}

/** Human-readable differences between two snapshots (empty when the machine is as it was). */
export function machineDifferences(before: MachineState, after: MachineState): string[] {
  const diff: string[] = [];
  const lists = ['mounts', 'cgroups', 'links'] as const;
  for (const key of lists) {
    const was = new Set(before[key]);
    const is = new Set(after[key]);
    for (const x of is) if (!was.has(x)) diff.push(`new ${key.slice(0, -1)}: ${x}`);
    for (const x of was) if (!is.has(x)) diff.push(`missing ${key.slice(0, -1)}: ${x}`);
  }
  if (before.rules !== after.rules) diff.push(`packet-filter rules changed:\n--- before\n${before.rules}\n--- after\n${after.rules}`);
  for (const [k, v] of Object.entries(before.sysctls)) {
    if (after.sysctls[k] !== v) diff.push(`sysctl ${k.replaceAll('/', '.')} is ${after.sysctls[k]}, was ${v}`);
  }
  return diff;
}

/** Processes still in the namespaces named by these `/proc/<pid>/ns/*` link targets (e.g. `net:[4026532…]`). */
export async function processesInNamespaces(namespaces: readonly string[]): Promise<number[]> {
  const wanted = new Set(namespaces);
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    for (const ns of ['net', 'pid', 'mnt']) {
      const target = await readlink(`/proc/${entry}/ns/${ns}`).catch(() => '');
      if (wanted.has(target)) {
        found.push(Number(entry));
        break;
      }
    }
  }
  return found;
}
