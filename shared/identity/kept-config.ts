// A reloadable piece of identity configuration that a broken update never replaces: the previous
// value stays in force, and the problem is logged and counted. The mapping ConfigMap and the
// container-credentials file both reload through it.
import type { Logger } from 'pino';

export type SourceEvent = 'loaded' | 'rejected';

export interface KeptConfigOptions {
  /** What is reloaded, for log lines: "mapping ConfigMap". */
  readonly name: string;
  /** What a rejection keeps, for log lines: "mapping". */
  readonly keeps: string;
  /** Fields that say where it comes from: `{ configMap: … }` or `{ file: … }`. */
  readonly origin: Readonly<Record<string, string>>;
  readonly logger: Logger;
  readonly onEvent?: ((e: SourceEvent) => void) | undefined;
}

export class KeptConfig<T extends { readonly size: number }> {
  current: T;
  private readonly opts: KeptConfigOptions;

  constructor(initial: T, opts: KeptConfigOptions) {
    this.current = initial;
    this.opts = opts;
  }

  /** Takes a parsed update, or keeps the current value when the update has errors. */
  offer(update: { readonly value: T; readonly warnings?: readonly string[] } | { readonly errors: readonly string[] }): void {
    const { name, keeps, origin, logger, onEvent } = this.opts;
    if ('errors' in update) {
      logger.warn({ ...origin, problems: update.errors, keptEntries: this.current.size }, `${name} rejected; keeping the previous ${keeps}`);
      onEvent?.('rejected');
      return;
    }
    for (const w of update.warnings ?? []) logger.warn(origin, w);
    this.current = update.value;
    logger.info({ ...origin, entries: update.value.size }, `${name} loaded`);
    onEvent?.('loaded');
  }
}
