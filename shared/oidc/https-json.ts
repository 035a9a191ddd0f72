// GET a JSON document over HTTPS the way STS fetches an issuer's discovery document and JWKS:
// https only, the system CAs plus any configured ones, a hard timeout, a size cap, no redirects.
import https from 'node:https';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

export type FetchFailure = 'not-https' | 'network' | 'tls' | 'timeout' | 'status' | 'too-large' | 'invalid-json';

export class HttpsJsonError extends Error {
  readonly kind: FetchFailure;
  readonly url: string;
  readonly status: number | undefined;
  constructor(kind: FetchFailure, url: string, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'HttpsJsonError';
    this.kind = kind;
    this.url = url;
    this.status = opts.status;
  }
}

export interface HttpsJsonOptions {
  /** Extra trusted CA certificates (PEM), added to the system ones. */
  readonly extraCaPems?: readonly string[];
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|ALTNAME/;

/**
 * One TLS context per set of extra CAs: building one parses the ~140 system roots, and a context per
 * request made every probe pay that in CPU and left the allocator holding tens of MiB (measured in
 * the agent benchmark).
 */
const contexts = new Map<string, SecureContext>();
function secureContextFor(extraCaPems: readonly string[]): SecureContext {
  const key = extraCaPems.join('\n');
  let ctx = contexts.get(key);
  if (!ctx) {
    ctx = createSecureContext({ ca: [...rootCertificates, ...extraCaPems] });
    contexts.set(key, ctx);
  }
  return ctx;
}

export function getJsonOverHttps(url: string, opts: HttpsJsonOptions = {}): Promise<unknown> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxBytes = opts.maxBytes ?? 1 << 20;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    return Promise.reject(new HttpsJsonError('not-https', url, `not a URL: ${url}`, { cause: err }));
  }
  if (parsed.protocol !== 'https:') return Promise.reject(new HttpsJsonError('not-https', url, `${url} is not an https URL`));
  const secureContext = opts.extraCaPems && opts.extraCaPems.length > 0 ? secureContextFor(opts.extraCaPems) : undefined;
  return new Promise((resolve, reject) => {
    const req = https.get(parsed, { ...(secureContext ? { secureContext } : {}), timeout: timeoutMs, agent: false, headers: { accept: 'application/json, application/jwk-set+json, */*;q=0.5' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        res.resume();
        reject(new HttpsJsonError('status', url, `GET ${url} answered HTTP ${status}`, { status }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          req.destroy();
          reject(new HttpsJsonError('too-large', url, `GET ${url}: body larger than ${maxBytes} bytes`));
        } else chunks.push(c);
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(new HttpsJsonError('invalid-json', url, `GET ${url}: body is not JSON`, { cause: err }));
        }
      });
      res.on('error', (err) => reject(new HttpsJsonError('network', url, `GET ${url}: ${err.message}`, { cause: err })));
    });
    req.on('timeout', () => {
      req.destroy();
      reject(new HttpsJsonError('timeout', url, `GET ${url}: no answer within ${timeoutMs} ms`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const kind: FetchFailure = TLS_CODES.test(err.code ?? '') ? 'tls' : 'network';
      reject(new HttpsJsonError(kind, url, `GET ${url}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' '), { cause: err }));
    });
  });
}
