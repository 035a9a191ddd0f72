// `kube-irsa cleanup`: deletes every IRSACheck, the objects agents write. The chart runs it as a
// post-delete hook, after the agents are gone (so none writes one back), because `helm uninstall`
// deletes only what the chart itself created and must leave no kube-irsa object behind.
import { parseCommandLine, processIo, type Command, type CommandIo } from '../shared/cli/command.ts';
import { describeKubeError, loadKubeClient, statusOf } from '../shared/kube/client.ts';
import { KUBE_FLAGS, requireApiServer } from '../shared/kube/flags.ts';
import type { ObjectList } from '../shared/kube/objects.ts';
import { irsaCheckPath, type IRSACheck } from './fleet.ts';

export async function runCleanup(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandLine({
    name: 'cleanup', usage: 'cleanup [--kubeconfig f] [--kube-api url]',
    description: 'Delete every IRSACheck in the cluster (the Helm chart runs this after `helm uninstall`, once the agents are gone).',
  }, KUBE_FLAGS, argv, io);
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  const problems: string[] = [];
  requireApiServer(v, problems);
  if (problems.length > 0) {
    io.stderr.write(`kube-irsa cleanup: ${problems.join('; ')}\n`);
    return 1;
  }
  const client = loadKubeClient({ kubeconfig: v.kubeconfig || undefined, kubeApi: v['kube-api'] || undefined });
  try {
    const checks = await client.request<ObjectList<IRSACheck>>('GET', irsaCheckPath());
    let deleted = 0;
    for (const c of checks.items) {
      try {
        await client.request('DELETE', irsaCheckPath(c.metadata.namespace, c.metadata.name));
        deleted++;
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    }
    io.stdout.write(`kube-irsa cleanup: deleted ${deleted} IRSACheck${deleted === 1 ? '' : 's'}\n`);
    return 0;
  } catch (err) {
    // no CRD (never installed, or already removed): nothing to clean
    if (statusOf(err) === 404) {
      io.stdout.write('kube-irsa cleanup: no IRSACheck resource in this cluster; nothing to delete\n');
      return 0;
    }
    io.stderr.write(`kube-irsa cleanup: ${describeKubeError(err)}\n`);
    return 2;
  } finally {
    client.close();
  }
}

export const cleanupCommand: Command = { name: 'cleanup', summary: 'Delete every IRSACheck (run by the chart after helm uninstall)', run: (argv) => runCleanup(argv) };
