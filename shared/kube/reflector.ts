// List, then watch from the list's resourceVersion, keeping only what the caller's transform returns
// (a few fields instead of whole objects: the cache of 100,000 ServiceAccounts stays small).
// Watches resume from the last resourceVersion seen, with bookmarks, and relist only on 410 Gone.
// Errors are retried with capped exponential backoff; the store is never emptied by a failure.
import type { Logger } from 'pino';
import { describeKubeError, statusOf, type KubeClient, type WatchHandle } from './client.ts';
import type { ObjectList } from './objects.ts';

export interface ReflectorHandlers<V> {
  /** The full set after a (re)list: entries missing from it were deleted. */
  replace(entries: ReadonlyMap<string, V>): void;
  upsert(key: string, value: V): void;
  remove(key: string): void;
}

interface MetaObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string };
}

export interface ReflectorOptions<T extends MetaObject, V> {
  readonly client: KubeClient;
  /** What is watched, for logs: e.g. "serviceaccounts". */
  readonly resource: string;
  /** The collection's API path, e.g. `/api/v1/serviceaccounts`. */
  readonly path: string;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  /** Returns undefined for objects the caller does not keep. */
  readonly transform: (obj: T) => V | undefined;
  readonly handlers: ReflectorHandlers<V>;
  readonly logger: Logger;
  readonly pageSize?: number;
  readonly watchTimeoutSeconds?: number;
  /** Called after every list and watch attempt: true when it worked. */
  readonly onHealth?: (ok: boolean) => void;
}

export interface Reflector {
  /** Resolves after the first complete list; keeps retrying the list until then or stop(). */
  start(): Promise<void>;
  stop(): void;
  readonly synced: boolean;
  /** Time of the last successful list or watch event/bookmark/clean close. */
  readonly lastContact: number;
}

export const keyOf = (obj: MetaObject): string =>
  obj.metadata?.namespace ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}` : (obj.metadata?.name ?? '');

export function createReflector<T extends MetaObject, V>(opts: ReflectorOptions<T, V>): Reflector {
  const log = opts.logger.child({ resource: opts.resource });
  const timeoutSeconds = opts.watchTimeoutSeconds ?? 300;
  // silence well past the server-side timeout means a dead connection
  const idleTimeoutMs = (timeoutSeconds + 60) * 1000;
  const selectors = { fieldSelector: opts.fieldSelector, labelSelector: opts.labelSelector };
  let resourceVersion = '';
  let stopped = false;
  let synced = false;
  let lastContact = 0;
  let failures = 0;
  let current: WatchHandle | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const backoffMs = (): number => Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.8 + Math.random() * 0.4);

  async function listAll(): Promise<void> {
    const entries = new Map<string, V>();
    let cont: string | undefined;
    let rv = '';
    do {
      // a list of 100,000 objects can take a while to page through: allow more than a plain call
      const page = await opts.client.request<ObjectList<T>>('GET', opts.path, { query: { ...selectors, limit: opts.pageSize ?? 500, continue: cont }, timeoutMs: 120_000 });
      for (const item of page.items) {
        const v = opts.transform(item);
        if (v !== undefined) entries.set(keyOf(item), v);
      }
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont && !stopped);
    resourceVersion = rv;
    opts.handlers.replace(entries);
    lastContact = Date.now();
  }

  function schedule(fn: () => void, delay: number): void {
    if (stopped) return;
    retryTimer = setTimeout(fn, delay);
    retryTimer.unref();
  }

  async function relistAndWatch(): Promise<void> {
    try {
      await listAll();
      failures = 0;
      opts.onHealth?.(true);
      watch();
    } catch (err) {
      failures++;
      opts.onHealth?.(false);
      log.warn({ err: describeKubeError(err), retryInMs: Math.round(backoffMs()) }, 'list failed; retrying');
      schedule(() => void relistAndWatch(), backoffMs());
    }
  }

  function watch(): void {
    if (stopped) return;
    let gone = false;
    const query = { ...selectors, allowWatchBookmarks: true, timeoutSeconds, resourceVersion };
    current = opts.client.watch<T & { code?: number }>(opts.path, query, ({ type, object: obj }) => {
      lastContact = Date.now();
      if (type === 'ERROR') {
        // a 410 in the stream: our resourceVersion is too old; relist
        if (obj.code === 410) gone = true;
        return;
      }
      if (obj.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
      if (type === 'BOOKMARK') return;
      const key = keyOf(obj);
      if (type === 'DELETED') opts.handlers.remove(key);
      else {
        const v = opts.transform(obj);
        if (v === undefined) opts.handlers.remove(key);
        else opts.handlers.upsert(key, v);
      }
    }, (err) => {
      current = undefined;
      if (stopped) return;
      if (gone || statusOf(err) === 410) {
        log.info('watch expired (410 Gone); relisting');
        schedule(() => void relistAndWatch(), 0);
      } else if (err) {
        failures++;
        opts.onHealth?.(false);
        log.warn({ err: describeKubeError(err), retryInMs: Math.round(backoffMs()) }, 'watch failed; resuming');
        schedule(() => watch(), backoffMs());
      } else {
        failures = 0;
        lastContact = Date.now();
        opts.onHealth?.(true);
        schedule(() => watch(), 0);
      }
    }, idleTimeoutMs);
  }

  return {
    async start() {
      while (!stopped) {
        try {
          await listAll();
          synced = true;
          failures = 0;
          opts.onHealth?.(true);
          watch();
          return;
        } catch (err) {
          failures++;
          opts.onHealth?.(false);
          log.warn({ err: describeKubeError(err), retryInMs: Math.round(backoffMs()) }, 'initial list failed; retrying');
          await new Promise((r) => setTimeout(r, backoffMs()));
        }
      }
    },
    stop() {
      stopped = true;
      if (retryTimer) clearTimeout(retryTimer);
      current?.abort();
      current = undefined;
    },
    get synced() {
      return synced;
    },
    get lastContact() {
      return lastContact;
    },
  };
}
