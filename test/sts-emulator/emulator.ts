// The STS emulator as an HTTP server on loopback: in-process for tests (state, faults, request log
// and counters are plain properties) and standalone through main.ts. It also answers the IAM reads
// (iam.ts), told apart by the Query Version (IAM's 2010-05-08), from the same state. The region a request is for
// comes from the first path segment (`http://127.0.0.1:PORT/us-west-2`), since an unsigned request
// to a custom endpoint carries no other trace of it.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchIssuerKeys } from '../../shared/oidc/issuer-keys.ts';
import { handleAdmin, ADMIN_PREFIX } from './admin.ts';
import { authenticate, renderCallerIdentityJson, renderCallerIdentityXml, type IssuedSession } from './caller-identity.ts';
import { StsError, stsErrors } from './errors.ts';
import { handleIam, IAM_ACTIONS, IAM_VERSION, IAM_XMLNS } from './iam.ts';
import { ACTION, assumeRoleWithWebIdentity, type FaultSettings } from './pipeline.ts';
import { API_VERSION, parseQuery, renderErrorJson, renderErrorXml, renderSuccessJson, renderSuccessXml, XMLNS } from './protocol.ts';
import { IamState, type EmulatorConfig } from './state.ts';

export interface StsEmulatorOptions {
  readonly config?: EmulatorConfig;
  readonly host?: string;
  readonly port?: number;
  /** CA certificates (PEM) trusted for issuer discovery and JWKS, besides the system ones. */
  readonly extraCaPems?: readonly string[];
  /** STS gives an issuer about 5 s. */
  readonly issuerFetchTimeoutMs?: number;
  /**
   * Serves the test-only control API under /_emulator/ (state changes, faults, the request log),
   * for an emulator running as its own process, e.g. inside the real-node cluster's network.
   */
  readonly admin?: boolean;
}

/** Everything a test can switch at run time. */
export interface EmulatorFaults extends FaultSettings {
  /** Requests per second served before answering `Throttling: Rate exceeded` (token bucket, burst = rate). */
  readonly throttleRatePerSecond?: number;
  /** Added before every answer. */
  readonly latencyMs?: number;
}

export interface RequestLogEntry {
  readonly time: string;
  readonly requestId: string;
  readonly region: string;
  readonly action: string;
  /** The role asked for; for GetRole the role read, for GetCallerIdentity the caller. */
  readonly roleArn: string | undefined;
  readonly roleSessionName: string | undefined;
  /** AssumeRoleWithWebIdentity's DurationSeconds and session Policy, as sent. */
  readonly durationSeconds?: string | undefined;
  readonly sessionPolicy?: string | undefined;
  /** `Success` or the error code. */
  readonly result: string;
  readonly status: number;
  readonly latencyMs: number;
}

const ACTIONS = new Set(['AssumeRoleWithWebIdentity', 'GetCallerIdentity']);
const REGION_SEGMENT = /^\/([a-z]{2}(?:-[a-z]+)+-\d)(?:\/|$)/;
// the largest legal request: a 20,000-character token, a 2,048-character policy, ten policy ARNs
const MAX_BODY_BYTES = 64 * 1024;

export class StsEmulator {
  readonly state: IamState;
  faults: EmulatorFaults = {};
  readonly disabledRegions: Set<string>;
  /** Shifts the emulator's clock, e.g. to make a fresh token look expired. */
  clockOffsetSeconds = 0;
  clockSkewSeconds: number;
  readonly requests: RequestLogEntry[] = [];
  /** Every session issued, by access key id, for the signed calls (GetCallerIdentity, the IAM reads). */
  readonly sessions = new Map<string, IssuedSession>();
  private readonly server: http.Server;
  private readonly admin: boolean;
  private readonly defaultRegion: string;
  private readonly extraCaPems: readonly string[];
  private readonly fetchTimeoutMs: number;
  private bucket = { tokens: 0, at: 0 };
  private port = 0;

  private constructor(opts: StsEmulatorOptions) {
    this.state = IamState.fromConfig(opts.config ?? {});
    this.defaultRegion = opts.config?.region ?? 'us-east-1';
    this.disabledRegions = new Set(opts.config?.disabledRegions ?? []);
    this.clockSkewSeconds = opts.config?.clockSkewSeconds ?? 0;
    this.extraCaPems = opts.extraCaPems ?? [];
    this.fetchTimeoutMs = opts.issuerFetchTimeoutMs ?? 5_000;
    this.admin = opts.admin ?? false;
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  static async start(opts: StsEmulatorOptions = {}): Promise<StsEmulator> {
    const emulator = new StsEmulator(opts);
    await new Promise<void>((resolve, reject) => {
      emulator.server.once('error', reject);
      emulator.server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    emulator.port = (emulator.server.address() as AddressInfo).port;
    return emulator;
  }

  /** The endpoint for the default region. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  endpointFor(region: string): string {
    return `${this.endpoint}/${region}`;
  }

  /** Requests per role ARN and result, e.g. `{ 'arn:…': { Success: 3, AccessDenied: 1 } }`. */
  counters(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const r of this.requests) {
      const byResult = (out[r.roleArn ?? '(none)'] ??= {});
      byResult[r.result] = (byResult[r.result] ?? 0) + 1;
    }
    return out;
  }

  count(filter: { roleArn?: string; result?: string; action?: string } = {}): number {
    return this.requests.filter((r) => (filter.roleArn === undefined || r.roleArn === filter.roleArn)
      && (filter.action === undefined || r.action === filter.action)
      && (filter.result === undefined || r.result === filter.result)).length;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** The signing credentials of an access key: a session the emulator issued, or an IAM user's key. */
  private callerFor(accessKeyId: string): IssuedSession | undefined {
    const session = this.sessions.get(accessKeyId);
    if (session) return session;
    const user = this.state.findUserByAccessKey(accessKeyId);
    return user && {
      accessKeyId, secretAccessKey: user.secretAccessKey, sessionToken: undefined, expiration: undefined,
      arn: user.arn, userId: user.userId, account: user.account,
    };
  }

  private takeThrottleToken(now: number): boolean {
    const rate = this.faults.throttleRatePerSecond;
    if (rate === undefined) return true;
    const elapsed = (now - this.bucket.at) / 1000;
    this.bucket = { tokens: Math.min(rate, this.bucket.tokens + elapsed * rate), at: now };
    if (this.bucket.tokens < 1) return false;
    this.bucket.tokens -= 1;
    return true;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (this.admin && url.pathname.startsWith(ADMIN_PREFIX)) {
      await handleAdmin(this, req, res, url);
      return;
    }
    const region = REGION_SEGMENT.exec(url.pathname)?.[1] ?? this.defaultRegion;

    let text: string;
    if (req.method === 'GET') {
      text = url.search.slice(1);
    } else if (req.method === 'POST') {
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined) {
        res.writeHead(413, { 'content-type': 'text/plain' }).end('Request Entity Too Large');
        return;
      }
      const type = req.headers['content-type'] ?? '';
      // the Query front end redirects form-less POSTs to the IAM console
      if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
        res.writeHead(302, { location: 'https://aws.amazon.com/iam' }).end();
        return;
      }
      text = body;
    } else {
      res.writeHead(405, { allow: 'GET, POST' }).end();
      return;
    }

    const query = parseQuery(text);
    if (query.action === undefined) {
      res.writeHead(302, { location: 'https://aws.amazon.com/iam' }).end();
      return;
    }
    const iam = query.version === IAM_VERSION;
    // IAM answers XML only; STS has a legacy JSON mode
    const wantsJson = !iam && (req.headers.accept ?? '').includes('application/json');
    const signed = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: req.method === 'POST' ? text : '' };
    const now = new Date(started + this.clockOffsetSeconds * 1000);

    let status = 200;
    let result = 'Success';
    let payload: string;
    let roleArn = query.params.RoleArn;
    try {
      if (iam) {
        if (!IAM_ACTIONS.has(query.action)) throw stsErrors.invalidAction(query.action, IAM_VERSION);
        if (!this.takeThrottleToken(started)) throw stsErrors.throttling();
        const caller = await authenticate(signed, (id) => this.callerFor(id), now, 'iam');
        const answer = handleIam(this.state, { action: query.action, params: new URLSearchParams(text), caller }, requestId);
        roleArn = answer.resource;
        payload = answer.xml;
      } else if (query.version !== API_VERSION) throw stsErrors.invalidAction(query.action, query.version ?? 'NO_VERSION_SPECIFIED');
      else if (!ACTIONS.has(query.action)) throw stsErrors.invalidAction(query.action, query.version);
      else if (!this.takeThrottleToken(started)) throw stsErrors.throttling();
      else if (query.action === 'AssumeRoleWithWebIdentity') {
        const outcome = await assumeRoleWithWebIdentity(query.params, {
          state: this.state,
          region,
          disabledRegions: this.disabledRegions,
          clockSkewSeconds: this.clockSkewSeconds,
          nowSeconds: Math.floor(started / 1000) + this.clockOffsetSeconds,
          faults: this.faults,
          fetchIssuerKeys: (issuer) => fetchIssuerKeys(issuer, { extraCaPems: this.extraCaPems, timeoutMs: this.fetchTimeoutMs }),
        });
        this.sessions.set(outcome.credentials.accessKeyId, {
          ...outcome.credentials, arn: outcome.assumedRoleUser.arn, userId: outcome.assumedRoleUser.assumedRoleId,
          account: outcome.assumedRoleUser.arn.split(':')[4] ?? '',
        });
        payload = wantsJson ? renderSuccessJson(outcome, requestId) : renderSuccessXml(outcome, requestId);
      } else {
        const session = await authenticate(signed, (id) => this.callerFor(id), now);
        roleArn = session.arn;
        payload = wantsJson ? renderCallerIdentityJson(session, requestId) : renderCallerIdentityXml(session, requestId, XMLNS);
      }
    } catch (err) {
      const e = err instanceof StsError ? err : stsErrors.internal();
      status = e.status;
      result = e.code;
      payload = wantsJson ? renderErrorJson(e, requestId) : renderErrorXml(e, requestId, iam ? IAM_XMLNS : XMLNS);
    }
    if (this.faults.latencyMs) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
    this.requests.push({
      time: new Date(started).toISOString(), requestId, region, action: query.action,
      roleArn, roleSessionName: query.params.RoleSessionName,
      durationSeconds: query.params.DurationSeconds, sessionPolicy: query.params.Policy,
      result, status, latencyMs: Date.now() - started,
    });
    res.writeHead(status, {
      'content-type': wantsJson ? 'application/json' : 'text/xml',
      'x-amzn-requestid': requestId,
      'content-length': Buffer.byteLength(payload),
    }).end(payload);
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export { ACTION };
