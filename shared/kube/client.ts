// A small Kubernetes REST client for the handful of calls kube-irsa makes (get, list, watch,
// create, replace, patch, delete on a few resources). It replaces @kubernetes/client-node in the
// webhook, agent and CLI: that package loads its 2,700 generated models on import (~60 MiB of
// resident memory per process, measured in test/bench), more than the agent's whole budget.
// One keep-alive connection pool per client; credentials are applied per request.
import http from 'node:http';
import https from 'node:https';
import { USER_AGENT } from '../version.ts';
import { loadKubeConnection, type KubeConnection, type KubeConnectionOptions } from './kubeconfig.ts';

export { KubeConnectionError, type KubeConnectionOptions } from './kubeconfig.ts';

/** The API server answered with an error status (its Status object's reason and message kept). */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(status: number, message: string, reason?: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /** For PATCH: application/merge-patch+json (default) or application/json-patch+json. */
  readonly contentType?: string;
  readonly timeoutMs?: number;
}

export interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

export interface WatchHandle {
  /** Ends the watch without calling its done callback. */
  abort(): void;
}

export interface KubeClientOptions {
  /** For calls other than watches. */
  readonly requestTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class KubeClient {
  readonly connection: KubeConnection;
  private readonly agent: http.Agent;
  private readonly requestTimeoutMs: number;

  constructor(connection: KubeConnection, opts: KubeClientOptions = {}) {
    this.connection = connection;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { tls } = connection;
    this.agent = connection.server.protocol === 'https:'
      ? new https.Agent({
        keepAlive: true, rejectUnauthorized: tls.rejectUnauthorized,
        ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}), ...(tls.servername ? { servername: tls.servername } : {}),
      })
      : new http.Agent({ keepAlive: true });
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, query ? { query } : {});
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }

  patch<T>(path: string, body: unknown, contentType?: string): Promise<T> {
    return this.request<T>('PATCH', path, { body, ...(contentType ? { contentType } : {}) });
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body === undefined ? {} : { body });
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(method, path, opts, body);
      // an exec plugin's or rotated file's token may have expired: fetch it again, once
      if (attempt === 0 && this.unauthorized(res.status)) continue;
      if (res.status < 200 || res.status > 299) throw apiError(res.status, res.text);
      return (res.text === '' ? undefined : JSON.parse(res.text)) as T;
    }
  }

  /**
   * Streams a watch: one callback per event, then `done` once — without an error when the server
   * ended it (its timeoutSeconds), with a KubeApiError for an error status (410 when the
   * resourceVersion is too old), or with the connection error.
   */
  watch<T>(path: string, query: Query, onEvent: (event: WatchEvent<T>) => void, done: (err?: Error) => void, idleTimeoutMs: number): WatchHandle {
    let finished = false;
    let req: http.ClientRequest | undefined;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      done(err);
    };
    void this.open('GET', path, { ...query, watch: true }, undefined, undefined).then((r) => {
      req = r;
      if (finished) return void r.destroy();
      // silence longer than the server-side timeout means a dead connection
      r.setTimeout(idleTimeoutMs, () => r.destroy(new Error(`watch silent for ${idleTimeoutMs / 1000} s`)));
      r.on('error', (err) => finish(err));
      r.on('response', (res) => {
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          // the caller's next watch then carries fresh credentials
          this.unauthorized(res.statusCode ?? 0);
          let text = '';
          res.on('data', (c: string) => (text += c));
          res.on('end', () => finish(apiError(res.statusCode ?? 0, text)));
          return;
        }
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while (!finished && (nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line.trim() === '') continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent<T>);
            } catch (err) {
              r.destroy();
              finish(new Error(`bad watch event: ${(err as Error).message}`));
            }
          }
        });
        res.on('end', () => finish());
        res.on('error', (err) => finish(err));
      });
      r.end();
    }, (err: Error) => finish(err));
    return {
      abort() {
        finished = true;
        req?.destroy();
      },
    };
  }

  /** A 401 means the cached credentials are stale: the next request fetches them again. */
  private unauthorized(status: number): boolean {
    if (status !== 401) return false;
    this.connection.credentials.invalidate();
    return true;
  }

  /** Destroys every connection, in flight or idle: requests still running fail, so callers stop their work first. */
  close(): void {
    this.agent.destroy();
  }

  private send(method: string, path: string, opts: RequestOptions, body: string | undefined): Promise<{ status: number; text: string }> {
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    return this.open(method, path, opts.query, body, opts.contentType)
      .then((req) => new Promise((resolve, reject) => exchange(req, body, timeoutMs, `${method} ${path}`, { resolve, reject })));
  }

  private async open(method: string, path: string, query: Query | undefined, body: string | undefined, contentType: string | undefined): Promise<http.ClientRequest> {
    const { server, impersonate, credentials } = this.connection;
    const url = new URL(server.href.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json', 'user-agent': USER_AGENT };
    const authorization = await credentials.authorization();
    if (authorization) headers.authorization = authorization;
    if (impersonate) {
      headers['impersonate-user'] = impersonate.user;
      if (impersonate.groups.length > 0) headers['impersonate-group'] = [...impersonate.groups];
    }
    if (body !== undefined) {
      headers['content-type'] = method === 'PATCH' ? (contentType ?? 'application/merge-patch+json') : 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const request = url.protocol === 'https:' ? https.request : http.request;
    return request(url, { method, headers, agent: this.agent });
  }
}

interface Pending {
  resolve?: (answer: { status: number; text: string }) => void;
  reject?: (err: Error) => void;
}

/**
 * Sends the request and reads the answer. A keep-alive socket keeps its last request and response,
 * with their listeners, until its next use: the listeners reach the caller only through `pending`,
 * emptied once settled, so an answer (a list page can be MiBs) is freed as soon as it is parsed
 * rather than when the socket is next used (found in a heap snapshot of the agent).
 */
function exchange(req: http.ClientRequest, body: string | undefined, timeoutMs: number, what: string, pending: Pending): void {
  const settle = (err: Error | undefined, answer?: { status: number; text: string }) => {
    const { resolve, reject } = pending;
    pending.resolve = undefined;
    pending.reject = undefined;
    if (err) reject?.(err);
    else if (answer) resolve?.(answer);
  };
  req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from the API server in ${timeoutMs} ms (${what})`)));
  req.on('error', (err) => settle(err));
  req.on('response', (res) => {
    let chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      chunks = [];
      settle(undefined, { status: res.statusCode ?? 0, text });
    });
    res.on('error', (err) => settle(err));
  });
  req.end(body);
}

function apiError(status: number, text: string): KubeApiError {
  let message = '';
  let reason: string | undefined;
  try {
    const s = JSON.parse(text) as { message?: unknown; reason?: unknown };
    if (typeof s.message === 'string') message = s.message;
    if (typeof s.reason === 'string') reason = s.reason;
  } catch {
    message = text.slice(0, 200).trim();
  }
  return new KubeApiError(status, message || http.STATUS_CODES[status] || 'error', reason);
}

export function loadKubeClient(opts: KubeConnectionOptions, clientOpts?: KubeClientOptions): KubeClient {
  return new KubeClient(loadKubeConnection(opts), clientOpts);
}

/** The HTTP status of an API error, when it has one. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof KubeApiError ? err.status : undefined;
}

/** A short, token-free description of a client error for logs. */
export function describeKubeError(err: unknown): string {
  if (err instanceof KubeApiError) return `HTTP ${err.status}: ${err.message}`;
  const e = err as NodeJS.ErrnoException | null;
  return e?.message ? (e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message) : String(err);
}
