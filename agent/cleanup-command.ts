// `kube-irsa cleanup`: deletes every IRSACheck, the objects agents write. The chart runs it as a
// post-delete hook, after the agents are gone (so none writes one back), because `helm uninstall`
// deletes only what the chart itself created and must leave no kube-irsa object behind.
import { parseCommandLine, processIo, type Command, type CommandIo } from '../shared/cli/command.ts';
import { describeKubeError, loadKubeApi, statusOf, type KubeApi } from '../shared/kube/api.ts';
import { KUBE_FLAGS, kubeConfigOptions, requireApiServer } from '../shared/kube/flags.ts';
import { IrsaCheckApi } from './irsa-check-api.ts';

export async function runCleanup(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandLine({
    name: 'cleanup', usage: 'cleanup [--kubeconfig f] [--context c] [--kube-api url]',
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
  let api: KubeApi;
  try {
    api = loadKubeApi(kubeConfigOptions(v));
  } catch (err) {
    io.stderr.write(`kube-irsa cleanup: ${(err as Error).message}\n`);
    return 1;
  }
  const checks = new IrsaCheckApi(api);
  try {
    let deleted = 0;
    let cont: string | undefined;
    do {
      const page = await checks.list(cont);
      for (const c of page.items) {
        try {
          await checks.delete(c.metadata.namespace, c.metadata.name);
          deleted++;
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
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
  }
}

export const cleanupCommand: Command = { name: 'cleanup', summary: 'Delete every IRSACheck (run by the chart after helm uninstall)', run: (argv) => runCleanup(argv) };
