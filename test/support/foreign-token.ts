// A JWT signed by a fresh key no JWKS holds: a token from "somewhere else", for the failure paths
// of token verification (unknown key, unreachable issuer, expired, missing aud).
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';

export interface ForeignTokenOptions {
  /** The `kid` header; default one that no JWKS publishes. */
  readonly kid?: string;
  /** Seconds from now until `exp` (negative: already expired); default an hour. */
  readonly expSeconds?: number;
  /** Seconds before now for `iat`; default now. */
  readonly issuedSecondsAgo?: number;
}

export async function foreignToken(claims: Record<string, unknown>, opts: ForeignTokenOptions = {}): Promise<string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? 'not-in-the-jwks' })
    .setIssuedAt(now - (opts.issuedSecondsAgo ?? 0)).setExpirationTime(now + (opts.expSeconds ?? 3600)).sign(privateKey);
}
