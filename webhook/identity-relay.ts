// The worker threads of --workers admit from a mirror of the main thread's identity: the main thread
// alone holds the API client and the watches (client-node loaded once per process, not per thread:
// ~30 MiB each, measured in test/bench), and sends each worker its ServiceAccount entries (all of
// them, then every change) and the mapping ConfigMap's text, over a MessagePort. Admissions in a
// worker resolve from the mirror without leaving the thread; only a ServiceAccount the mirror does
// not hold (a live lookup), the token guard's bound pod and readiness are asked of the main thread.
// The container-credentials file each thread reads itself, as it is a file.
import type { MessagePort } from 'node:worker_threads';
import pino from 'pino';
import type { ServiceAccountIdentity } from '../shared/identity/annotations.ts';
import type { IdentitySources } from '../shared/identity/identity-sources.ts';
import { ContainerCredentialsSource } from '../shared/identity/container-credentials-source.ts';
import { MappingSource } from '../shared/identity/mapping-source.ts';
import { IdentityResolver } from '../shared/identity/resolver.ts';
import type { LookupOutcome, ServiceAccountLookupResult } from '../shared/identity/service-account-cache.ts';
import type { WebhookConfig } from './config.ts';
import type { IdentityService } from './running.ts';
import type { GuardedPod } from './token-guard/handler.ts';

type Ask =
  | { readonly type: 'lookup'; readonly id: number; readonly namespace: string; readonly name: string; readonly fresh: boolean }
  | { readonly type: 'pod'; readonly id: number; readonly namespace: string; readonly name: string };
type Tell =
  | { readonly type: 'answer'; readonly id: number; readonly value: unknown }
  | { readonly type: 'failed'; readonly id: number; readonly message: string }
  | { readonly type: 'readiness'; readonly notReady: string | undefined }
  | { readonly type: 'service-accounts'; readonly entries: ReadonlyArray<readonly [string, ServiceAccountIdentity]> }
  | { readonly type: 'service-account'; readonly key: string; readonly value: ServiceAccountIdentity | undefined }
  | { readonly type: 'mapping'; readonly text: string | undefined };

type Body<T> = T extends unknown ? Omit<T, 'id'> : never;

/** Main thread: keeps one worker's mirror current and answers its questions, until the returned stop. */
export function serveIdentityRelay(port: MessagePort, sources: IdentitySources, identity: IdentityService): () => void {
  const send = (t: Tell) => port.postMessage(t);
  const cache = sources.serviceAccounts;
  const listener = {
    all: (entries: ReadonlyMap<string, ServiceAccountIdentity>) => send({ type: 'service-accounts', entries: [...entries] }),
    entry: (key: string, value: ServiceAccountIdentity | undefined) => send({ type: 'service-account', key, value }),
  };
  const onMapping = (text: string | undefined) => send({ type: 'mapping', text });
  listener.all(cache.snapshot());
  onMapping(sources.mapping.currentText);
  cache.listeners.add(listener);
  sources.mapping.listeners.add(onMapping);
  port.on('message', (ask: Ask) => {
    const work: Promise<unknown> = ask.type === 'lookup' ? cache.get(ask.namespace, ask.name, ask.fresh) : identity.getPod(ask.namespace, ask.name);
    work.then((value) => send({ type: 'answer', id: ask.id, value }), (err: unknown) => send({ type: 'failed', id: ask.id, message: (err as Error).message }));
  });
  // readiness only ever turns true (the caches stay synced): tell the worker until it is
  let last: string | undefined = '';
  const tell = () => {
    const notReady = identity.notReady();
    if (notReady !== last) send({ type: 'readiness', notReady });
    last = notReady;
    if (notReady === undefined) clearInterval(timer);
  };
  const timer = setInterval(tell, 100);
  timer.unref();
  tell();
  return () => {
    clearInterval(timer);
    cache.listeners.delete(listener);
    sources.mapping.listeners.delete(onMapping);
    port.close();
  };
}

export interface MirroredIdentity extends IdentityService {
  /** Reads the associations file (when configured), before serving. */
  start(): Promise<void>;
  close(): void;
}

/** Worker thread: the identity service over the main thread's mirror. */
export function identityMirror(port: MessagePort, config: WebhookConfig, onLookup?: (outcome: LookupOutcome) => void): MirroredIdentity {
  let nextId = 0;
  let notReady: string | undefined = 'waiting for the main thread\'s caches';
  const entries = new Map<string, ServiceAccountIdentity>();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  // the main thread logs and counts the mapping's and the file's problems; a mirror repeats them silently
  const quiet = pino({ level: 'silent' });
  const mapping = new MappingSource({ defaults: config.identity, logger: quiet });
  const associations = config.containerCredentialsFile ? new ContainerCredentialsSource({ file: config.containerCredentialsFile, logger: quiet }) : undefined;
  port.on('message', (t: Tell) => {
    switch (t.type) {
      case 'readiness': notReady = t.notReady; return;
      case 'service-accounts':
        entries.clear();
        for (const [k, v] of t.entries) entries.set(k, v);
        return;
      case 'service-account':
        if (t.value === undefined) entries.delete(t.key);
        else entries.set(t.key, t.value);
        return;
      case 'mapping':
        if (t.text === undefined) mapping.remove();
        else mapping.upsert('', t.text);
        return;
      default: {
        const p = pending.get(t.id);
        pending.delete(t.id);
        if (t.type === 'answer') p?.resolve(t.value);
        else p?.reject(new Error(t.message));
      }
    }
  });
  const ask = <T>(q: Body<Ask>): Promise<T> => new Promise<T>((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    port.postMessage({ ...q, id });
  });
  const serviceAccounts = {
    peek: (namespace: string, name: string) => entries.get(`${namespace}/${name}`),
    /** A hit is counted here; a lookup the main thread makes is counted there. */
    async get(namespace: string, name: string, fresh = false): Promise<ServiceAccountLookupResult> {
      const cached = entries.get(`${namespace}/${name}`);
      if (cached && !fresh) {
        onLookup?.('hit');
        return { identity: cached, outcome: 'hit' };
      }
      return await ask<ServiceAccountLookupResult>({ type: 'lookup', namespace, name, fresh });
    },
  };
  const resolver = new IdentityResolver({
    serviceAccounts, defaults: config.identity, mapping: () => mapping.current,
    ...(associations ? { containerCredentials: () => associations.current } : {}),
  });
  return {
    resolver,
    getPod: (namespace, name) => ask<GuardedPod | undefined>({ type: 'pod', namespace, name }),
    notReady: () => notReady,
    start: async () => {
      await associations?.start();
    },
    close: () => {
      associations?.close();
      port.close();
    },
  };
}
