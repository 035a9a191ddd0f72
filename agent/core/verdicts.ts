// Turning observations into a reason: the token's own claims (no network), and STS's answer.
import { isWellFormedRoleArn } from '../../shared/identity/annotations.ts';
import { audiencesOf, decodeToken, TokenFormatError, type TokenClaims } from '../../shared/oidc/jwt.ts';
import type { Reason } from './reasons.ts';

export interface TokenFacts {
  readonly claims: TokenClaims;
  readonly kid: string | undefined;
}

export type StaticOutcome =
  | { readonly ok: true; readonly facts: TokenFacts }
  | { readonly ok: false; readonly reason: Reason; readonly detail: string; readonly facts?: TokenFacts };

/** Checks that need nothing but the token text, the role and the expected audience. */
export function checkTokenStatically(token: string, expectedAudience: string, roleArn: string, nowSeconds: number): StaticOutcome {
  let facts: TokenFacts;
  try {
    const decoded = decodeToken(token);
    facts = { claims: decoded.claims, kid: decoded.kid };
  } catch (err) {
    return { ok: false, reason: 'TokenMalformed', detail: err instanceof TokenFormatError ? err.message : 'not a JWT' };
  }
  const aud = audiencesOf(facts.claims);
  if (!aud.includes(expectedAudience)) {
    return { ok: false, reason: 'AudienceMismatch', detail: `the token's aud is ${aud.length > 0 ? aud.join(', ') : 'missing'}, but the ServiceAccount asks for ${expectedAudience}`, facts };
  }
  if (typeof facts.claims.exp === 'number' && facts.claims.exp <= nowSeconds) {
    return { ok: false, reason: 'TokenExpired', detail: `the token expired at ${new Date(facts.claims.exp * 1000).toISOString()} (${nowSeconds - facts.claims.exp} s ago)`, facts };
  }
  if (typeof facts.claims.iss !== 'string' || facts.claims.iss === '') {
    return { ok: false, reason: 'TokenMalformed', detail: 'the token has no iss claim', facts };
  }
  if (!isWellFormedRoleArn(roleArn)) {
    return { ok: false, reason: 'InvalidRoleArn', detail: `"${roleArn}" is not a well-formed IAM role ARN`, facts };
  }
  return { ok: true, facts };
}

export interface StsFailure {
  /** The wire code (err.Code), or undefined for transport failures. */
  readonly code: string | undefined;
  readonly message: string;
  readonly httpStatus: number | undefined;
}

interface SdkError {
  readonly Code?: unknown;
  readonly name?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly cause?: unknown;
}

/**
 * STS's wire code, message and HTTP status from what the SDK threw. The code is the error's `Code`
 * (the wire code: `InvalidIdentityToken`, where the SDK's class name says
 * `InvalidIdentityTokenException`); an error a provider wrapped (its `cause`) is read through.
 * No answer (network, DNS, TLS, timeout) has no status and no code.
 */
export function stsFailureOf(err: unknown): StsFailure {
  let e = err as SdkError | undefined;
  for (let depth = 0; depth < 4 && e && e.$metadata?.httpStatusCode === undefined && typeof e.cause === 'object' && e.cause !== null; depth++) {
    e = e.cause;
  }
  const httpStatus = e?.$metadata?.httpStatusCode;
  const wire = typeof e?.Code === 'string' ? e.Code : typeof e?.name === 'string' ? e.name : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return { code: httpStatus !== undefined ? wire : undefined, message, httpStatus };
}

/** STS's answer to AssumeRoleWithWebIdentity → reason. Keyed on the wire code, then the message. */
export function classifyStsFailure(f: StsFailure): Reason {
  switch (f.code) {
    case 'AccessDenied':
      return 'TrustPolicyDenied';
    case 'InvalidIdentityToken':
      if (/No OpenIDConnect provider found/i.test(f.message)) return 'OIDCProviderNotFound';
      if (/Incorrect token audience/i.test(f.message)) return 'IncorrectAudience';
      if (/Missing a required claim: aud/i.test(f.message)) return 'AudienceMismatch';
      if (/not a valid JWT/i.test(f.message)) return 'TokenMalformed';
      if (/verification key|thumbprint/i.test(f.message)) return 'IdPUnreachable';
      return 'ProbeError';
    case 'ExpiredTokenException':
      return 'TokenExpired';
    case 'ValidationError':
      if (/ARN is invalid|roleArn/i.test(f.message)) return 'InvalidRoleArn';
      if (/roleSessionName/i.test(f.message)) return 'InvalidSessionName';
      return 'ProbeError';
    case 'RegionDisabledException':
      return 'RegionDisabled';
    case 'Throttling':
    case 'ThrottlingException':
    case 'RequestLimitExceeded':
      return 'Throttled';
    case 'IDPCommunicationError':
    case 'IDPRejectedClaim':
      return 'IdPUnreachable';
    case undefined:
      return 'STSUnreachable';
    default:
      return f.httpStatus !== undefined && f.httpStatus >= 500 ? 'STSUnreachable' : 'ProbeError';
  }
}
