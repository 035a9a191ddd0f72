// An OIDC issuer's signing keys, found as STS finds them: `<iss>/.well-known/openid-configuration`,
// then its `jwks_uri`. Used by the agent's static checks and by the STS emulator.
import type { JSONWebKeySet } from 'jose';
import type { HttpsJsonError} from './https-json.ts';
import { getJsonOverHttps, type HttpsJsonOptions } from './https-json.ts';

export interface IssuerKeys {
  readonly discoveryUrl: string;
  readonly jwksUri: string;
  readonly jwks: JSONWebKeySet;
}

export class IssuerKeysError extends Error {
  /** Which document failed. */
  readonly stage: 'discovery' | 'jwks';
  readonly url: string;
  constructor(stage: 'discovery' | 'jwks', url: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'IssuerKeysError';
    this.stage = stage;
    this.url = url;
  }
}

export function discoveryUrlOf(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

export async function fetchIssuerKeys(issuer: string, opts: HttpsJsonOptions = {}): Promise<IssuerKeys> {
  const discoveryUrl = discoveryUrlOf(issuer);
  let discovery: unknown;
  try {
    discovery = await getJsonOverHttps(discoveryUrl, opts);
  } catch (err) {
    throw new IssuerKeysError('discovery', discoveryUrl, (err as HttpsJsonError).message, err);
  }
  const jwksUri = (discovery as { jwks_uri?: unknown } | null)?.jwks_uri;
  if (typeof jwksUri !== 'string' || jwksUri === '') {
    throw new IssuerKeysError('discovery', discoveryUrl, `${discoveryUrl} has no jwks_uri`);
  }
  let jwks: unknown;
  try {
    jwks = await getJsonOverHttps(jwksUri, opts);
  } catch (err) {
    throw new IssuerKeysError('jwks', jwksUri, (err as HttpsJsonError).message, err);
  }
  if (!Array.isArray((jwks as { keys?: unknown } | null)?.keys)) {
    throw new IssuerKeysError('jwks', jwksUri, `${jwksUri} is not a JWK set (no "keys" array)`);
  }
  return { discoveryUrl, jwksUri, jwks: jwks as JSONWebKeySet };
}
