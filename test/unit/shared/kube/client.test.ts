// The Kubernetes REST client against a local HTTPS server that answers like the API server: headers
// and bodies on the wire, Status errors, a 401 retried once with fresh credentials, timeouts, and
// watches (events split across chunks, server-side end, 410, abort, silence).
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { describeKubeError, KubeApiError, KubeClient, statusOf, type WatchEvent } from '../../../../shared/kube/client.ts';
import type { Credentials } from '../../../../shared/kube/credentials.ts';
import { createCertificateAuthority } from '../../../cluster/pki.ts';
import { startLoopbackHttps, type LoopbackHttps } from '../../../support/loopback-https.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let api: LoopbackHttps;
const seen: Seen[] = [];
let answer: (req: Seen, res: ServerResponse) => void = (_req, res) => res.end('{}');

before(async () => {
  api = await startLoopbackHttps((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      answer(s, res);
    });
  });
});
after(() => api.close());

function tokens(...values: string[]): Credentials & { invalidations: number } {
  let i = 0;
  return {
    invalidations: 0,
    authorization() {
      return Promise.resolve(`Bearer ${values[Math.min(i, values.length - 1)] ?? ''}`);
    },
    invalidate() {
      this.invalidations++;
      i++;
    },
  };
}

function client(credentials: Credentials = tokens('t'), extra: Partial<ConstructorParameters<typeof KubeClient>[0]> = {}, requestTimeoutMs?: number): KubeClient {
  return new KubeClient({ server: new URL(api.url), tls: { rejectUnauthorized: true, ca: api.ca.certPem }, credentials, ...extra }, requestTimeoutMs ? { requestTimeoutMs } : {});
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

describe('Kubernetes REST client', () => {
  test('a GET carries the credentials, query and identity; a POST its JSON body; PATCH its content type', async () => {
    seen.length = 0;
    answer = (req, res) => json(res, req.method === 'POST' ? 201 : 200, { kind: 'ServiceAccount', echo: req.method });
    const c = client(tokens('secret-token'), { impersonate: { user: 'system:serviceaccount:ns:agent', groups: ['g1', 'g2'] } });
    try {
      assert.deepEqual(await c.get('/api/v1/namespaces/ns/pods', { fieldSelector: 'spec.nodeName=n1', limit: 500, continue: undefined }), { kind: 'ServiceAccount', echo: 'GET' });
      await c.create('/api/v1/namespaces/ns/events', { reason: 'Healthy' });
      await c.patch('/api/v1/namespaces/ns/events/e1', [{ op: 'replace', path: '/count', value: 2 }], 'application/json-patch+json');
    } finally {
      c.close();
    }
    const [get, post, patch] = seen;
    assert.equal(get?.url, '/api/v1/namespaces/ns/pods?fieldSelector=spec.nodeName%3Dn1&limit=500');
    assert.equal(get?.headers.authorization, 'Bearer secret-token');
    assert.equal(get?.headers['impersonate-user'], 'system:serviceaccount:ns:agent');
    assert.equal(get?.headers['impersonate-group'], 'g1, g2');
    assert.match(get?.headers['user-agent'] ?? '', /^kube-irsa\//);
    assert.equal(post?.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(post?.body ?? ''), { reason: 'Healthy' });
    assert.equal(patch?.method, 'PATCH');
    assert.equal(patch?.headers['content-type'], 'application/json-patch+json');
  });

  test('keep-alive: consecutive calls share one connection', async () => {
    seen.length = 0;
    answer = (_req, res) => json(res, 200, {});
    const ports = new Set<number>();
    const onConnection = (socket: { remotePort?: number }) => ports.add(socket.remotePort ?? 0);
    api.server.on('secureConnection', onConnection);
    const c = client();
    try {
      for (let i = 0; i < 5; i++) await c.get('/api/v1/serviceaccounts');
    } finally {
      c.close();
      api.server.off('secureConnection', onConnection);
    }
    assert.equal(seen.length, 5);
    assert.equal(ports.size, 1);
  });

  test('an error Status becomes a KubeApiError with its code, reason and message', async () => {
    answer = (_req, res) => json(res, 409, { kind: 'Status', status: 'Failure', reason: 'Conflict', message: 'the object has been modified', code: 409 });
    const c = client();
    try {
      const err = await c.get('/x').then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof KubeApiError);
      assert.deepEqual([err.status, err.reason, err.message, statusOf(err)], [409, 'Conflict', 'the object has been modified', 409]);
      assert.equal(describeKubeError(err), 'HTTP 409: the object has been modified');
      answer = (_req, res) => {
        res.writeHead(503);
        res.end('upstream unavailable');
      };
      await assert.rejects(c.get('/x'), (e: unknown) => e instanceof KubeApiError && e.status === 503 && e.message === 'upstream unavailable');
    } finally {
      c.close();
    }
  });

  test('a 401 invalidates the credentials and is retried once, never more', async () => {
    seen.length = 0;
    answer = (req, res) => (req.headers.authorization === 'Bearer fresh' ? json(res, 200, { ok: true }) : json(res, 401, { kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized', code: 401 }));
    const creds = tokens('expired', 'fresh');
    const c = client(creds);
    try {
      assert.deepEqual(await c.get('/x'), { ok: true });
      assert.equal(creds.invalidations, 1);
      const stale = tokens('bad', 'still-bad');
      const c2 = client(stale);
      await assert.rejects(c2.get('/x'), (e: unknown) => statusOf(e) === 401);
      assert.equal(stale.invalidations, 1);
      c2.close();
    } finally {
      c.close();
    }
  });

  test('no answer within the request timeout is an error that names the call; a wrong CA is refused', async () => {
    answer = () => undefined; // never answers
    const c = client(tokens('t'), {}, 150);
    try {
      await assert.rejects(c.get('/api/v1/slow'), /no answer from the API server in 150 ms \(GET \/api\/v1\/slow\)/);
    } finally {
      c.close();
    }
    const other = await createCertificateAuthority(await mkdtemp(path.join(api.dir, 'other-')), 'other CA');
    const untrusting = new KubeClient({ server: new URL(api.url), tls: { rejectUnauthorized: true, ca: other.certPem }, credentials: tokens('t') });
    try {
      await assert.rejects(untrusting.get('/x'), (e: unknown) => statusOf(e) === undefined && /certificate/i.test(describeKubeError(e)));
    } finally {
      untrusting.close();
    }
  });
});

describe('watches', () => {
  function collect(c: KubeClient, query: Record<string, string> = {}, idleMs = 5_000) {
    const events: WatchEvent<{ metadata: { name: string } }>[] = [];
    let resolveDone!: (err: Error | undefined) => void;
    const done = new Promise<Error | undefined>((r) => (resolveDone = r));
    const handle = c.watch<{ metadata: { name: string } }>('/api/v1/pods', query, (e) => events.push(e), (err) => resolveDone(err), idleMs);
    return { events, done, handle };
  }

  test('events split across chunks arrive whole and in order; the server ending the watch is a clean done', async () => {
    seen.length = 0;
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const stream = [
        { type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '1' } } },
        { type: 'MODIFIED', object: { metadata: { name: 'ü-b', resourceVersion: '2' } } },
        { type: 'BOOKMARK', object: { metadata: { resourceVersion: '3' } } },
      ].map((e) => JSON.stringify(e) + '\n').join('');
      const bytes = Buffer.from(stream);
      // cut inside an event and inside the multi-byte ü
      const cut = bytes.indexOf(Buffer.from('ü')) + 1;
      res.write(bytes.subarray(0, 10));
      res.write(bytes.subarray(10, cut));
      setTimeout(() => res.end(bytes.subarray(cut)), 20);
    };
    const c = client();
    try {
      const w = collect(c, { resourceVersion: '0', allowWatchBookmarks: 'true' });
      assert.equal(await w.done, undefined);
      assert.deepEqual(w.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'a'], ['MODIFIED', 'ü-b'], ['BOOKMARK', undefined]]);
      assert.match(seen[0]?.url ?? '', /^\/api\/v1\/pods\?resourceVersion=0&allowWatchBookmarks=true&watch=true$/);
    } finally {
      c.close();
    }
  });

  test('an error status ends the watch with a KubeApiError (410 Gone for a too old resourceVersion)', async () => {
    answer = (_req, res) => json(res, 410, { kind: 'Status', reason: 'Expired', message: 'too old resource version: 1 (5)', code: 410 });
    const c = client();
    try {
      const err = await collect(c).done;
      assert.equal(statusOf(err), 410);
      assert.match(err?.message ?? '', /too old resource version/);
    } finally {
      c.close();
    }
  });

  test('a 401 ends the watch and invalidates the credentials, so the next watch carries fresh ones', async () => {
    answer = (_req, res) => json(res, 401, { kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized', code: 401 });
    const creds = tokens('expired', 'fresh');
    const c = client(creds);
    try {
      const err = await collect(c).done;
      assert.equal(statusOf(err), 401);
      assert.equal(creds.invalidations, 1);
    } finally {
      c.close();
    }
  });

  test('abort ends the watch without calling done; silence past the idle timeout is an error', async () => {
    let serverSawClose!: () => void;
    const closed = new Promise<void>((r) => (serverSawClose = r));
    answer = (_req, res) => {
      res.on('close', () => serverSawClose());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'x' } } }) + '\n');
    };
    const c = client();
    try {
      const events: unknown[] = [];
      let firstEvent!: () => void;
      const arrived = new Promise<void>((r) => (firstEvent = r));
      let doneCalled = false;
      const handle = c.watch('/api/v1/pods', {}, (e) => {
        events.push(e);
        firstEvent();
      }, () => (doneCalled = true), 5_000);
      await arrived;
      handle.abort();
      // the connection is gone at the server's end, and every callback that was to follow has run
      await closed;
      await new Promise((r) => setImmediate(r));
      assert.equal(doneCalled, false, 'abort does not call done');
      assert.equal(events.length, 1);

      const silent = collect(c, {}, 150);
      const err = await silent.done;
      assert.match(err?.message ?? '', /watch silent for 0.15 s/);
      assert.equal(silent.events.length, 1);
    } finally {
      c.close();
    }
  });
});
