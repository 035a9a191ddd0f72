// The container-credentials association file. A broken update never replaces a working one: the
// previous associations stay in force, and the problem is logged and counted.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ContainerCredentialsConfig, parseContainerCredentialsConfig } from '../shared/identity/container-credentials.ts';
import { watchFiles, type FileWatch } from '../shared/file-watch.ts';
import { KeptConfig, type SourceEvent } from '../shared/identity/kept-config.ts';

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
    let text: string | undefined;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      // a missing file disables the mode, as in the reference
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ file: this.file, err: (err as Error).message }, 'cannot read the container-credentials file');
      text = undefined;
    }
    const result = parseContainerCredentialsConfig(text);
    this.associations.offer(result.ok ? { value: result.config } : result);
  }
}
