// The shape every kube-irsa subcommand has, so bin/kube-irsa.ts only dispatches.
import { formatFlagHelp, parseFlags, UsageError, type FlagSpecs, type ParsedFlags } from './flags.ts';

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Exit code: 0 success, 1 bad usage or input, others as the command documents. */
  run(argv: readonly string[]): Promise<number>;
}

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export const processIo: CommandIo = { stdout: process.stdout, stderr: process.stderr };

/**
 * Parses argv against the command's flags, answering --help and usage errors itself. Returns the
 * parsed flags, or the exit code the caller should return.
 */
export function parseCommandLine<S extends FlagSpecs>(
  cmd: { name: string; usage: string; description: string },
  specs: S,
  argv: readonly string[],
  io: CommandIo = processIo,
): ParsedFlags<S> | number {
  if (argv.includes('--help') || argv.includes('-h') || argv.includes('-help')) {
    io.stdout.write(`Usage: kube-irsa ${cmd.usage}\n\n${cmd.description}\n\nFlags:\n${formatFlagHelp(specs)}\n`);
    return 0;
  }
  try {
    return parseFlags(specs, argv);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`kube-irsa ${cmd.name}: ${err.problems.join('\nkube-irsa ' + cmd.name + ': ')}\nRun 'kube-irsa ${cmd.name} --help' for usage.\n`);
      return 1;
    }
    throw err;
  }
}
