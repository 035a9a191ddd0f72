// The `pod-identity-webhook` ConfigMap as a live value. A broken update never replaces a working
// mapping: the previous one stays in force, and the problem is logged and counted.
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { IdentityDefaults } from './annotations.ts';
import { IdentityMapping, MAPPING_CONFIG_KEY, MAPPING_CONFIG_MAP_NAME, parseIdentityMapping } from './config-map.ts';
import type { ReflectorHandlers } from '../kube/reflector.ts';

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

