// The `pod-identity-webhook` ConfigMap as a live value. A broken update never replaces a working
// mapping: the previous one stays in force, and the problem is logged and counted. It holds no API
// client (identity-sources.ts feeds it from a reflector): the webhook's worker threads mirror it
// without loading @kubernetes/client-node.
import type { Logger } from 'pino';
import type { IdentityDefaults } from './annotations.ts';
import { IdentityMapping, MAPPING_CONFIG_KEY, MAPPING_CONFIG_MAP_NAME, parseIdentityMapping } from './config-map.ts';
import type { ConfigMap } from '../kube/objects.ts';
import type { ReflectorHandlers } from '../kube/reflector.ts';
import { KeptConfig, type SourceEvent } from './kept-config.ts';

/** The `pod-identity-webhook` ConfigMap, fed by a reflector that watches only that name. */
export class MappingSource implements ReflectorHandlers<string> {
  private readonly mapping: KeptConfig<IdentityMapping>;
  private readonly defaults: IdentityDefaults;
  private readonly logger: Logger;
  /** The `config` text last applied (undefined: no ConfigMap), for mirrors. */
  private text: string | undefined;
  /** Told of every text applied or cleared (the webhook's worker threads mirror it). */
  readonly listeners = new Set<(text: string | undefined) => void>();

  constructor(opts: { defaults: IdentityDefaults; logger: Logger; onEvent?: (e: SourceEvent) => void }) {
    this.defaults = opts.defaults;
    this.logger = opts.logger;
    this.mapping = new KeptConfig(IdentityMapping.empty, {
      name: 'mapping ConfigMap', keeps: 'mapping', origin: { configMap: MAPPING_CONFIG_MAP_NAME }, logger: opts.logger, onEvent: opts.onEvent,
    });
  }

  get current(): IdentityMapping {
    return this.mapping.current;
  }

  /** The `config` text last applied, undefined when there is no ConfigMap. */
  get currentText(): string | undefined {
    return this.text;
  }

  /** Reflector transform: the `config` text ('' when the key is absent). */
  readonly transform = (cm: ConfigMap): string | undefined =>
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
    this.mapping.current = IdentityMapping.empty;
    this.text = undefined;
    for (const l of this.listeners) l(undefined);
  }

  private apply(text: string): void {
    const result = parseIdentityMapping(text, this.defaults);
    this.mapping.offer(result.ok ? { value: result.mapping, warnings: result.warnings } : result);
    this.text = text;
    for (const l of this.listeners) l(text);
  }
}

