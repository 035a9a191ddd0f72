// An OIDC issuer on loopback HTTPS (its own CA) with one RS256 key: discovery, JWKS, and tokens
// signed with that key, for tests that need STS (the emulator) to verify a token without an API server.
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT, type JWTPayload } from 'jose';
import { startLoopbackHttps, type LoopbackHttps } from './loopback-https.ts';

export interface TestIssuer {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** Issuer URL without the scheme: the IAM OIDC provider's name and condition-key prefix. */
  readonly providerUrl: string;
  readonly https: LoopbackHttps;
  /** A token for `system:serviceaccount:shop:app`, aud sts.amazonaws.com, unless `claims` say otherwise. */
  sign(claims?: JWTPayload, expires?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(kid = 'k1'): Promise<TestIssuer> {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(key.publicKey)), kid, alg: 'RS256', use: 'sig' };
  let url = '';
  const https = await startLoopbackHttps((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/keys` }));
    else if (req.url === '/keys') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end();
  });
  url = https.url;
  return {
    url, providerUrl: url.replace('https://', ''), https,
    sign: (claims = {}, expires = '1h') => new SignJWT({ sub: 'system:serviceaccount:shop:app', aud: 'sts.amazonaws.com', iss: url, ...claims })
      .setProtectedHeader({ alg: 'RS256', kid }).setIssuedAt().setExpirationTime(expires).sign(key.privateKey),
    close: () => https.close(),
  };
}

/** A trust policy letting `subject`'s tokens from `issuer` assume the role. */
export function trustFor(issuer: TestIssuer, account: string, subject = 'system:serviceaccount:shop:app'): unknown {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${account}:oidc-provider/${issuer.providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { StringEquals: { [`${issuer.providerUrl}:sub`]: subject } } }],
  };
}
