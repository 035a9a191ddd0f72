// The worker threads of --workers admit through the main thread's identity: a worker asks over a
// MessagePort for each admission's ServiceAccount (a Map lookup there, live lookups included) and
// for the token guard's bound pod, and is told when the caches are synced. So the API client, the
// watches and the caches exist once per process (a worker thread held its own copies: ~30 MiB
// each with client-node, measured in test/bench), at the cost of one message round trip per
// admission inside the process.
import type { MessagePort } from 'node:worker_threads';
import { serviceAccountOf, skipsIdentity, type PodIdentityFields, type PodResolver, type Resolution } from '../shared/identity/resolver.ts';
import type { IdentityService } from './running.ts';
import type { GuardedPod } from './token-guard/handler.ts';

type Ask =
  | { readonly type: 'resolve'; readonly id: number; readonly namespace: string; readonly name: string }
  | { readonly type: 'pod'; readonly id: number; readonly namespace: string; readonly name: string };
type Answer =
  | { readonly type: 'answer'; readonly id: number; readonly value: unknown }
  | { readonly type: 'failed'; readonly id: number; readonly message: string }
  | { readonly type: 'readiness'; readonly notReady: string | undefined };

/** Main thread: answers one worker's questions from `identity` until the port closes. */
export function serveIdentityRelay(port: MessagePort, identity: IdentityService): () => void {
  const send = (a: Answer) => port.postMessage(a);
  port.on('message', (ask: Ask) => {
    const work: Promise<unknown> = ask.type === 'resolve'
      ? identity.resolver.resolvePod({ spec: { serviceAccountName: ask.name } }, ask.namespace)
      : identity.getPod(ask.namespace, ask.name);
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
    port.close();
  };
}

/** Worker thread: an IdentityService that asks the main thread. */
export function identityRelayClient(port: MessagePort): IdentityService & { close(): void } {
  let nextId = 0;
  let notReady: string | undefined = 'waiting for the main thread\'s caches';
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  port.on('message', (a: Answer) => {
    if (a.type === 'readiness') {
      notReady = a.notReady;
      return;
    }
    const p = pending.get(a.id);
    pending.delete(a.id);
    if (a.type === 'answer') p?.resolve(a.value);
    else p?.reject(new Error(a.message));
  });
  const ask = <T>(q: Omit<Ask, 'id'>): Promise<T> => new Promise<T>((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    port.postMessage({ ...q, id });
  });
  const resolver: PodResolver = {
    resolvePod(pod: PodIdentityFields, namespace: string): Promise<Resolution> {
      const name = serviceAccountOf(pod);
      // an opted-out pod needs no answer from the main thread
      if (skipsIdentity(pod)) return Promise.resolve({ namespace, serviceAccount: name, identity: undefined, lookup: undefined });
      return ask<Resolution>({ type: 'resolve', namespace, name });
    },
  };
  return {
    resolver,
    getPod: (namespace, name) => ask<GuardedPod | undefined>({ type: 'pod', namespace, name }),
    notReady: () => notReady,
    close: () => port.close(),
  };
}
