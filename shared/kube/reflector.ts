// List, then watch from the list's resourceVersion, keeping only what the caller's transform returns
// (a few fields instead of whole objects: the cache of 100,000 ServiceAccounts stays small).
// Watches resume from the last resourceVersion seen, with bookmarks, and relist only on 410 Gone.
// Errors are retried with capped exponential backoff; the store is never emptied by a failure.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { describeKubeError, statusOf } from './client.ts';

export interface ListPage<T> {
  readonly items: readonly T[];
  readonly metadata?: { readonly resourceVersion?: string; readonly _continue?: string };
}

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
  readonly kubeConfig: KubeConfig;
  /** What is watched, for logs: e.g. "serviceaccounts". */
  readonly resource: string;
  /** API path for the watch, e.g. `/api/v1/serviceaccounts`. */
  readonly watchPath: string;
  readonly list: (opts: { limit: number; _continue?: string }) => Promise<ListPage<T>>;
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
  const watcher = new Watch(opts.kubeConfig);
  const timeoutSeconds = opts.watchTimeoutSeconds ?? 300;
  // client-node aborts a watch that stays silent for requestTimeoutMs (30 s, private in its types):
  // longer than the server-side timeout, so a quiet watch ends cleanly instead of as an error
  (watcher as unknown as { requestTimeoutMs: number }).requestTimeoutMs = (timeoutSeconds + 60) * 1000;
  let resourceVersion = '';
  let stopped = false;
  let synced = false;
  let lastContact = 0;
  let failures = 0;
  let current: AbortController | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const backoffMs = (): number => Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * (0.8 + Math.random() * 0.4);

  async function listAll(): Promise<void> {
    const entries = new Map<string, V>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await opts.list({ limit: opts.pageSize ?? 500, ...(cont ? { _continue: cont } : {}) });
      for (const item of page.items) {
        const v = opts.transform(item);
        if (v !== undefined) entries.set(keyOf(item), v);
      }
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?._continue || undefined;
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
      void watch();
    } catch (err) {
      failures++;
      opts.onHealth?.(false);
      log.warn({ err: describeKubeError(err), retryInMs: Math.round(backoffMs()) }, 'list failed; retrying');
      schedule(() => void relistAndWatch(), backoffMs());
    }
  }

  async function watch(): Promise<void> {
    if (stopped) return;
    let gone = false;
    const query: Record<string, string | number | boolean> = { allowWatchBookmarks: true, timeoutSeconds, resourceVersion };
    if (opts.fieldSelector) query.fieldSelector = opts.fieldSelector;
    if (opts.labelSelector) query.labelSelector = opts.labelSelector;
    current = await watcher.watch(opts.watchPath, query, (type: string, obj: T & { code?: number }) => {
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
    }, (err: unknown) => {
      current = undefined;
      if (stopped) return;
      if (gone || statusOf(err) === 410) {
        log.info('watch expired (410 Gone); relisting');
        schedule(() => void relistAndWatch(), 0);
      } else if (err) {
        failures++;
        opts.onHealth?.(false);
        log.warn({ err: describeKubeError(err), retryInMs: Math.round(backoffMs()) }, 'watch failed; resuming');
        schedule(() => void watch(), backoffMs());
      } else {
        failures = 0;
        lastContact = Date.now();
        opts.onHealth?.(true);
        schedule(() => void watch(), 0);
      }
    });
  }

  return {
    async start() {
      while (!stopped) {
        try {
          await listAll();
          synced = true;
          failures = 0;
          opts.onHealth?.(true);
          void watch();
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
    },
    get synced() {
      return synced;
    },
    get lastContact() {
      return lastContact;
    },
  };
}
