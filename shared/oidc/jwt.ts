// Reading a web-identity token without trusting it (to explain what it claims), and verifying its
// signature against an issuer's JWKS. Token text is never put in an error message.
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, type JSONWebKeySet } from 'jose';

export interface TokenClaims {
  readonly iss?: string;
  readonly sub?: string;
  readonly aud?: string | string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  readonly [claim: string]: unknown;
}

export interface DecodedToken {
  readonly alg: string | undefined;
  readonly kid: string | undefined;
  readonly claims: TokenClaims;
}

export class TokenFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenFormatError';
  }
}

/** Signature algorithms STS accepts for OIDC tokens. */
export const STS_ALGORITHMS: readonly string[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'];

export function decodeToken(token: string): DecodedToken {
  const trimmed = token.trim();
  if (trimmed.split('.').length !== 3) throw new TokenFormatError('not a JWT: expected three dot-separated parts');
  let header: { alg?: string; kid?: string };
  let claims: TokenClaims;
  try {
    header = decodeProtectedHeader(trimmed);
    claims = decodeJwt(trimmed);
  } catch (err) {
    throw new TokenFormatError(`not a JWT: ${(err as Error).message}`);
  }
  return { alg: header.alg, kid: header.kid, claims };
}

export function audiencesOf(claims: TokenClaims): string[] {
  if (typeof claims.aud === 'string') return [claims.aud];
  if (Array.isArray(claims.aud)) return claims.aud.filter((a): a is string => typeof a === 'string');
  return [];
}

export type SignatureCheck = 'valid' | 'key-not-found' | 'invalid-signature' | 'unsupported-algorithm';

export async function checkSignature(token: string, jwks: JSONWebKeySet): Promise<SignatureCheck> {
  const keys = createLocalJWKSet(jwks);
  try {
    await compactVerify(token.trim(), keys, { algorithms: [...STS_ALGORITHMS] });
    return 'valid';
  } catch (err) {
    if (err instanceof errors.JWKSMultipleMatchingKeys) {
      // no kid in the header and several candidate keys: try each, as a verifier would
      for await (const key of err) {
        try {
          await compactVerify(token.trim(), key, { algorithms: [...STS_ALGORITHMS] });
          return 'valid';
        } catch {
          // next key
        }
      }
      return 'invalid-signature';
    }
    if (err instanceof errors.JWKSNoMatchingKey) return 'key-not-found';
    if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return 'unsupported-algorithm';
    if (err instanceof errors.JWSSignatureVerificationFailed) return 'invalid-signature';
    return 'invalid-signature';
  }
}
