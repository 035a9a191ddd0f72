// Dispatches `kube-irsa <command>` to the command's module, loaded on demand so that `--help`
// and each command pay only for what they use.
import type { Command } from '../shared/cli/command.ts';
import { VERSION } from '../shared/version.ts';

const COMMANDS: Readonly<Record<string, { summary: string; load: () => Promise<Command> }>> = {
  webhook: { summary: 'Run the mutating admission webhook (drop-in for amazon-eks-pod-identity-webhook)', load: async () => (await import('../webhook/main.ts')).webhookCommand },
  agent: { summary: 'Run the node agent that checks every ServiceAccount\'s AWS identity and reports why it fails', load: async () => (await import('../agent/main.ts')).agentCommand },
  doctor: { summary: 'Check one token and role the way the agent does, and explain the result', load: async () => (await import('../agent/doctor-command.ts')).doctorCommand },
  mutate: { summary: 'Print what the webhook would do to a pod (offline)', load: async () => (await import('../webhook/mutate-command.ts')).mutateCommand },
  cleanup: { summary: 'Delete every IRSACheck (run by the Helm chart after helm uninstall)', load: async () => (await import('../agent/cleanup-command.ts')).cleanupCommand },
  version: { summary: 'Print the version', load: () => Promise.resolve(versionCommand) },
};

const versionCommand: Command = {
  name: 'version',
  summary: 'Print the version',
  run: () => {
    process.stdout.write(`kube-irsa ${VERSION} (node ${process.versions.node})\n`);
    return Promise.resolve(0);
  },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'kube-irsa: IAM Roles for Service Accounts on any Kubernetes cluster.',
    '',
    'Usage: kube-irsa <command> [flags]',
    '',
    'Commands:',
    ...rows,
    '',
    "Run 'kube-irsa <command> --help' for a command's flags.",
    '',
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(help());
    return first === undefined ? 1 : 0;
  }
  if (first === '--version' || first === '-v') return versionCommand.run([]);
  const entry = COMMANDS[first];
  if (!entry) {
    const what = first.startsWith('-') ? 'flag' : 'command';
    process.stderr.write(`kube-irsa: unknown ${what} "${first}"\nRun 'kube-irsa --help' for the list of commands.\n`);
    return 1;
  }
  return (await entry.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`kube-irsa: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
