// The two optional identity sources besides ServiceAccount annotations: the mapping ConfigMap and
// the container-credentials association file. A broken update never replaces a working one: the
// previous value stays in force, and the problem is logged and counted.
import { readFile } from 'node:fs/promises';
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { IdentityDefaults } from '../shared/identity/annotations.ts';
import { IdentityMapping, MAPPING_CONFIG_KEY, MAPPING_CONFIG_MAP_NAME, parseIdentityMapping } from '../shared/identity/config-map.ts';
import { ContainerCredentialsConfig, parseContainerCredentialsConfig } from '../shared/identity/container-credentials.ts';
import { watchFiles, type FileWatch } from '../shared/file-watch.ts';
import type { ReflectorHandlers } from '../shared/kube/reflector.ts';

export type SourceEvent = 'loaded' | 'rejected';

/** The `pod-identity-webhook` ConfigMap, fed by a reflector that watches only that name. */
export class MappingSource implements ReflectorHandlers<string> {
  current: IdentityMapping = IdentityMapping.empty;
  private readonly defaults: IdentityDefaults;
  private readonly logger: Logger;
  private readonly onEvent: ((e: SourceEvent) => void) | undefined;

  constructor(opts: { defaults: IdentityDefaults; logger: Logger; onEvent?: (e: SourceEvent) => void }) {
    this.defaults = opts.defaults;
    this.logger = opts.logger;
    this.onEvent = opts.onEvent;
  }

  /** Reflector transform: the `config` text ('' when the key is absent). */
  readonly transform = (cm: V1ConfigMap): string | undefined =>
    cm.metadata?.name === MAPPING_CONFIG_MAP_NAME ? (cm.data?.[MAPPING_CONFIG_KEY] ?? '') : undefined;

  replace(entries: ReadonlyMap<string, string>): void {
    const text = [...entries.values()][0];
    if (text === undefined) this.clear();
    else this.apply(text);
  }

  upsert(_key: string, text: string): void {
    this.apply(text);
  }

  remove(): void {
    // the reference keeps deleted mappings forever; a deleted ConfigMap here means no mappings
    this.clear();
  }

  private clear(): void {
    if (this.current.size > 0) this.logger.info('mapping ConfigMap removed; no ServiceAccount mappings in force');
    this.current = IdentityMapping.empty;
  }

  private apply(text: string): void {
    const result = parseIdentityMapping(text, this.defaults);
    if (!result.ok) {
      this.logger.warn({ configMap: MAPPING_CONFIG_MAP_NAME, problems: result.errors, keptEntries: this.current.size },
        'mapping ConfigMap rejected; keeping the previous mapping');
      this.onEvent?.('rejected');
      return;
    }
    for (const w of result.warnings) this.logger.warn({ configMap: MAPPING_CONFIG_MAP_NAME }, w);
    this.current = result.mapping;
    this.logger.info({ configMap: MAPPING_CONFIG_MAP_NAME, entries: result.mapping.size }, 'mapping ConfigMap loaded');
    this.onEvent?.('loaded');
  }
}

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
