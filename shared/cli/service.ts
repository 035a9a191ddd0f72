// How a long-running command (webhook, agent) starts and stops: flags, config (every problem said
// at once, exit 1), JSON logger, notices, start (a failure is a clear message and exit 1), then
// run until SIGTERM or SIGINT and stop gracefully.
import { createLogger, type Logger, type LogLevel } from '../logging.ts';
import { parseCommandLine } from './command.ts';
import { ConfigError, type FlagSpecs, type ParsedFlags } from './flags.ts';

export interface ServiceDefinition<S extends FlagSpecs, C extends { readonly logLevel: LogLevel }> {
  readonly name: string;
  readonly description: string;
  readonly flags: S;
  /** Answers before anything starts (e.g. --version); a number is the exit code. */
  readonly early?: (parsed: ParsedFlags<S>) => number | undefined;
  readonly configure: (parsed: ParsedFlags<S>) => { config: C; notices: readonly string[] };
  readonly start: (config: C, logger: Logger) => Promise<{ stop(): Promise<void> }>;
}

export async function runService<S extends FlagSpecs, C extends { readonly logLevel: LogLevel }>(def: ServiceDefinition<S, C>, argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine({ name: def.name, usage: `${def.name} [flags]`, description: def.description }, def.flags, argv);
  if (typeof parsed === 'number') return parsed;
  const early = def.early?.(parsed);
  if (early !== undefined) return early;
  if (parsed.positionals.length > 0) {
    process.stderr.write(`kube-irsa ${def.name}: unexpected argument "${parsed.positionals[0] ?? ''}"\n`);
    return 1;
  }
  let built: { config: C; notices: readonly string[] };
  try {
    built = def.configure(parsed);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.problems.map((p) => `kube-irsa ${def.name}: ${p}\n`).join(''));
      return 1;
    }
    throw err;
  }
  const logger = createLogger({ component: def.name, level: built.config.logLevel });
  for (const n of built.notices) logger.warn(n);
  let running: { stop(): Promise<void> };
  try {
    running = await def.start(built.config, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, `${def.name} failed to start`);
    process.stderr.write(`kube-irsa ${def.name}: ${(err as Error).message}\n`);
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, `${def.name} shutting down: draining in-flight work`);
  await running.stop();
  return 0;
}
