// The prober's issuer half against a local HTTPS issuer (its own CA, passed as --issuer-ca-file
// would be): probes starting together share one discovery/JWKS fetch, a rotated key triggers one
// refresh, and an issuer signed by a CA nobody configured is unreachable, as STS would find it.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, SignJWT, type JWK } from 'jose';
import { IdentityProber } from '../../../agent/identity-prober.ts';
import { RateLimiter } from '../../../agent/rate-limiter.ts';
import { createCertificateAuthority } from '../../cluster/pki.ts';
import { startLoopbackHttps, type LoopbackHttps } from '../../support/loopback-https.ts';

let issuerServer: LoopbackHttps;
let issuer: string;
const hits: string[] = [];
let jwks: { keys: JWK[] } = { keys: [] };

function signingKey(kid: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, publicJwk: async () => ({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }) };
}

const token = (key: ReturnType<typeof signingKey>) => new SignJWT({ sub: 'system:serviceaccount:ns:app', aud: 'sts.amazonaws.com', iss: issuer })
  .setProtectedHeader({ alg: 'RS256', kid: key.kid }).setIssuedAt().setExpirationTime('1h').sign(key.privateKey);

const prober = (caPems: string[]) => new IdentityProber({ nodeName: 'n1', defaultRegion: 'us-east-1', stsEndpoint: 'http://127.0.0.1:1', issuerCaPems: caPems, limiter: new RateLimiter(100) });

before(async () => {
  issuerServer = await startLoopbackHttps((req, res) => {
    hits.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/openid/v1/jwks` }));
    else if (req.url === '/openid/v1/jwks') res.end(JSON.stringify(jwks));
    else res.writeHead(404).end();
  });
  issuer = issuerServer.url;
});
after(() => issuerServer.close());

describe('identity prober: the issuer as STS sees it', () => {
  test('sixteen probes starting together fetch discovery and JWKS once', async () => {
    const key = signingKey('k1');
    jwks = { keys: [await key.publicJwk()] };
    hits.length = 0;
    const p = prober([issuerServer.ca.certPem]);
    try {
      const jwt = await token(key);
      const results = await Promise.all(Array.from({ length: 16 }, () => p.checkIssuer(jwt, issuer)));
      assert.deepEqual(results, Array.from({ length: 16 }, () => undefined));
      assert.deepEqual(hits, ['/.well-known/openid-configuration', '/openid/v1/jwks']);
    } finally {
      p.close();
    }
  });

  test('a key missing from the cached JWKS triggers one refresh, shared by concurrent probes', async () => {
    const old = signingKey('old');
    jwks = { keys: [await old.publicJwk()] };
    const p = prober([issuerServer.ca.certPem]);
    try {
      assert.equal(await p.checkIssuer(await token(old), issuer), undefined);
      const rotated = signingKey('new');
      jwks = { keys: [await rotated.publicJwk()] };
      hits.length = 0;
      const jwt = await token(rotated);
      const results = await Promise.all([p.checkIssuer(jwt, issuer), p.checkIssuer(jwt, issuer), p.checkIssuer(jwt, issuer)]);
      assert.deepEqual(results, [undefined, undefined, undefined]);
      assert.deepEqual(hits, ['/.well-known/openid-configuration', '/openid/v1/jwks']);
      const unknown = await p.checkIssuer(await token(signingKey('elsewhere')), issuer);
      assert.equal(unknown?.reason, 'SigningKeyNotInJWKS');
    } finally {
      p.close();
    }
  });

  test('an issuer whose certificate no configured CA signed is unreachable, with the TLS reason', async () => {
    const key = signingKey('k2');
    jwks = { keys: [await key.publicJwk()] };
    const other = await createCertificateAuthority(await mkdtemp(path.join(issuerServer.dir, 'other-')), 'someone else');
    const p = prober([other.certPem]);
    try {
      const r = await p.checkIssuer(await token(key), issuer);
      assert.equal(r?.reason, 'IssuerDiscoveryUnreachable');
      assert.match(r?.detail ?? '', /discovery document of issuer https:\/\/127\.0\.0\.1:\d+ cannot be fetched: .*(certificate|CERT)/i);
    } finally {
      p.close();
    }
  });
});
