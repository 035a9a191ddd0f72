// The container-credentials association file. A broken update never replaces a working one: the
// previous associations stay in force, and the problem is logged and counted.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ContainerCredentialsConfig, parseContainerCredentialsConfig, type ContainerCredentialsParseResult } from './container-credentials.ts';
import { watchFiles, type FileWatch } from '../file-watch.ts';
import { KeptConfig, type SourceEvent } from './kept-config.ts';

/** The container-credentials association file, reloaded when it changes. */
export class ContainerCredentialsSource {
  private watch: FileWatch | undefined;
  private readonly file: string;
  private readonly logger: Logger;
  private readonly associations: KeptConfig<ContainerCredentialsConfig>;

  constructor(opts: { file: string; logger: Logger; onEvent?: (e: SourceEvent) => void }) {
    this.file = opts.file;
    this.logger = opts.logger;
    this.associations = new KeptConfig(ContainerCredentialsConfig.empty, {
      name: 'container-credentials file', keeps: 'associations', origin: { file: opts.file }, logger: opts.logger, onEvent: opts.onEvent,
    });
  }

  get current(): ContainerCredentialsConfig {
    return this.associations.current;
  }

  async start(): Promise<void> {
    await this.load();
    this.watch = watchFiles([this.file], () => void this.load(), { onError: (err) => this.logger.debug({ err: err.message }, 'file watch') });
  }

  close(): void {
    this.watch?.close();
  }

  async load(): Promise<void> {
    const result = await readContainerCredentialsFile(this.file, (err) => this.logger.warn({ file: this.file, err }, 'cannot read the container-credentials file'));
    this.associations.offer(result.ok ? { value: result.config } : result);
  }
}

/** Reads and parses the file once; a missing file disables the mode, as in the reference. */
export async function readContainerCredentialsFile(file: string, onReadError: (message: string) => void): Promise<ContainerCredentialsParseResult> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') onReadError((err as Error).message);
    text = undefined;
  }
  return parseContainerCredentialsConfig(text);
}
