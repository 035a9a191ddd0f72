// The container-credentials association file. A broken update never replaces a working one: the
// previous associations stay in force, and the problem is logged and counted.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ContainerCredentialsConfig, parseContainerCredentialsConfig } from '../shared/identity/container-credentials.ts';
import { watchFiles, type FileWatch } from '../shared/file-watch.ts';
import type { SourceEvent } from '../shared/identity/mapping-source.ts';

/** The container-credentials association file, reloaded when it changes. */
export class ContainerCredentialsSource {
  current: ContainerCredentialsConfig = ContainerCredentialsConfig.empty;
  private watch: FileWatch | undefined;
  private readonly file: string;
  private readonly logger: Logger;
  private readonly onEvent: ((e: SourceEvent) => void) | undefined;

  constructor(opts: { file: string; logger: Logger; onEvent?: (e: SourceEvent) => void }) {
    this.file = opts.file;
    this.logger = opts.logger;
    this.onEvent = opts.onEvent;
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
    if (!result.ok) {
      this.logger.warn({ file: this.file, problems: result.errors, keptIdentities: this.current.size }, 'container-credentials file rejected; keeping the previous associations');
      this.onEvent?.('rejected');
      return;
    }
    this.current = result.config;
    this.logger.info({ file: this.file, identities: result.config.size }, 'container-credentials associations loaded');
    this.onEvent?.('loaded');
  }
}
