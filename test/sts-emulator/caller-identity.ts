// SigV4 authentication of the emulator's signed calls (GetCallerIdentity, the IAM reads): an
// application that assumed a role with its web identity (through the SDK's default chain), or a
// configured IAM user with a static access key, signs its requests. The emulator keeps every
// session it issues and checks the signature by signing the same request again with the caller's
// secret, with the SDK's own signer (@smithy/signature-v4).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { StsError } from './errors.ts';

/** A caller's signing credentials and identity: a session the emulator issued or an IAM user's key. */
export interface IssuedSession {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Absent for an IAM user's long-term key. */
  readonly sessionToken: string | undefined;
  readonly expiration: Date | undefined;
  readonly arn: string;
  /** `<role unique id>:<session name>`, or the user's unique id. */
  readonly userId: string;
  readonly account: string;
}

export const callerErrors = {
  missingAuthentication: () => new StsError('MissingAuthenticationToken', 403, 'Request is missing Authentication Token'),
  invalidClientToken: () => new StsError('InvalidClientTokenId', 403, 'The security token included in the request is invalid.'),
  expiredToken: () => new StsError('ExpiredToken', 403, 'The security token included in the request is expired'),
  signatureMismatch: () => new StsError('SignatureDoesNotMatch', 403,
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.'),
  incompleteSignature: (detail: string) => new StsError('IncompleteSignature', 400, detail),
  wrongService: (service: string) => new StsError('SignatureDoesNotMatch', 403, `Credential should be scoped to correct service: '${service}'. `),
} as const;

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** The hash constructor SignatureV4 wants: SHA-256, or HMAC-SHA-256 when given a secret. */
export class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

export interface SignedRequest {
  readonly method: string;
  /** Path and query string as received. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The caller a signed request comes from, or the error STS (or IAM, for `service` iam) answers with. */
export async function authenticate(req: SignedRequest, callers: (accessKeyId: string) => IssuedSession | undefined, now: Date, service?: string): Promise<IssuedSession> {
  const header = req.headers.authorization;
  if (header === undefined) throw callerErrors.missingAuthentication();
  const m = AUTHORIZATION.exec(header);
  if (!m) throw callerErrors.incompleteSignature(`Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters. Authorization=${header.split(' ')[0] ?? ''}`);
  const [, accessKeyId = '', , region = '', scopedService = '', signedHeaders = '', signature = ''] = m;
  const session = callers(accessKeyId);
  if (session === undefined || req.headers['x-amz-security-token'] !== session.sessionToken) throw callerErrors.invalidClientToken();
  if (session.expiration !== undefined && session.expiration.getTime() <= now.getTime()) throw callerErrors.expiredToken();
  if (service !== undefined && scopedService !== service) throw callerErrors.wrongService(service);

  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const signingDate = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!signingDate) throw callerErrors.incompleteSignature('Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.');
  const [, y, mo, d, h, mi, s] = signingDate;
  const url = new URL(req.url, 'http://emulator');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(';')) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const signer = new SignatureV4({
    service: scopedService, region, sha256: Sha256, uriEscapePath: true,
    credentials: { accessKeyId, secretAccessKey: session.secretAccessKey, sessionToken: session.sessionToken },
  });
  const host = headers.host ?? '';
  const signed = await signer.sign({
    method: req.method, protocol: 'http:', hostname: host.replace(/:\d+$/, ''), path: url.pathname,
    query: Object.fromEntries(url.searchParams), headers, body: req.body,
  }, { signingDate: new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`), signableHeaders: new Set(signedHeaders.split(';')) });
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? '';
  if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) throw callerErrors.signatureMismatch();
  return session;
}

export function renderCallerIdentityXml(session: IssuedSession, requestId: string, xmlns: string): string {
  return `<GetCallerIdentityResponse xmlns="${xmlns}">
  <GetCallerIdentityResult>
    <Arn>${session.arn}</Arn>
    <UserId>${session.userId}</UserId>
    <Account>${session.account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
`;
}

export function renderCallerIdentityJson(session: IssuedSession, requestId: string): string {
  return JSON.stringify({
    GetCallerIdentityResponse: {
      GetCallerIdentityResult: { Arn: session.arn, UserId: session.userId, Account: session.account },
      ResponseMetadata: { RequestId: requestId },
    },
  });
}
