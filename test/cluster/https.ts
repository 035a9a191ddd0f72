// A minimal HTTPS client for the harness (readiness polls, anonymous discovery fetches) that trusts
// exactly the CA it is given, with a hard timeout so a wedged server fails a test instead of hanging it.
import https from 'node:https';

export interface HttpsResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export function httpsRequest(url: string, opts: {
  ca?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  cert?: string;
  key?: string;
} = {}): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: opts.method ?? 'GET',
      headers: opts.headers,
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      timeout: opts.timeoutMs ?? 10_000,
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${url} timed out after ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}
