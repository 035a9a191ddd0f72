// The agent's STS probe through the SDK's web-identity credential provider (fromWebToken), against
// the STS emulator: every reason the prober maps from STS arrives with STS's wire code and its exact
// message, the request carries the deny-all session policy, 900 s and kube-irsa's session name, the
// SDK makes one attempt (the agent owns retries), and a `{region}` endpoint sends each region to its
// own route, where a disabled one is RegionDisabled.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DENY_ALL_SESSION_POLICY, IdentityProber, PROBE_DURATION_SECONDS, probeSessionName } from '../../agent/identity-prober.ts';
import { RateLimiter } from '../../agent/rate-limiter.ts';
import type { Reason } from '../../agent/core/reasons.ts';
import { freePorts } from '../cluster/control-plane.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { stsErrors } from '../sts-emulator/errors.ts';
import { startTestIssuer, trustFor, type TestIssuer } from '../support/test-issuer.ts';

const ACCOUNT = '111122223333';
const NO_PROVIDER_ACCOUNT = '444455556666';
const role = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:role/${name}`;

describe('identity prober: STS through fromWebToken', () => {
  let issuer: TestIssuer;
  let sts: StsEmulator;

  const token = (claims = {}) => issuer.sign(claims);
  const prober = (stsEndpoint = sts.endpoint) => new IdentityProber({ nodeName: 'node-a', defaultRegion: 'us-west-2', stsEndpoint, issuerCaPems: [], limiter: new RateLimiter(1000, 1000) });

  before(async () => {
    issuer = await startTestIssuer();
    sts = await StsEmulator.start({
      extraCaPems: [issuer.https.ca.certPem],
      config: {
        region: 'us-west-2',
        disabledRegions: ['af-south-1'],
        accounts: [
          { id: ACCOUNT, oidcProviders: [{ url: issuer.url, clientIds: ['sts.amazonaws.com'] }], roles: [{ name: 'app', trustPolicy: trustFor(issuer, ACCOUNT) }, { name: 'other', trustPolicy: trustFor(issuer, ACCOUNT, 'system:serviceaccount:shop:other') }] },
          { id: NO_PROVIDER_ACCOUNT, roles: [] },
        ],
      },
    });
  });
  after(async () => {
    await sts?.stop();
    await issuer?.close();
  });

  async function probe(roleArn: string, jwt: string, opts: { region?: string; endpoint?: string } = {}) {
    const p = prober(opts.endpoint);
    try {
      return await p.assume(roleArn, jwt, opts.region);
    } finally {
      p.close();
    }
  }

  test('a healthy identity: one request with the deny-all policy, 900 s and the node\'s session name', async () => {
    sts.requests.length = 0;
    const outcome = await probe(role('app'), await token());
    assert.equal(outcome.reason, 'Healthy', JSON.stringify(outcome));
    assert.equal(outcome.stsAnswered, true);
    assert.equal(outcome.stsError, undefined);
    assert.equal(sts.requests.length, 1);
    const [request] = sts.requests;
    assert.equal(request?.result, 'Success');
    assert.equal(request?.roleSessionName, probeSessionName('node-a'));
    assert.equal(request?.durationSeconds, String(PROBE_DURATION_SECONDS));
    assert.equal(request?.sessionPolicy, DENY_ALL_SESSION_POLICY);
    assert.equal(request?.region, 'us-west-2');
  });

  // each reason the prober maps from an STS answer, with the answer the emulator gives for it
  const cases: ReadonlyArray<{ name: string; reason: Reason; code: string; message: () => string; roleArn?: string; jwt?: () => Promise<string>; setup?: () => void }> = [
    { name: 'a trust policy that does not allow the subject', reason: 'TrustPolicyDenied', code: 'AccessDenied', message: () => stsErrors.accessDenied().message, roleArn: role('other') },
    { name: 'no OIDC provider in the role\'s account', reason: 'OIDCProviderNotFound', code: 'InvalidIdentityToken', message: () => stsErrors.noProvider(issuer.url).message, roleArn: role('app', NO_PROVIDER_ACCOUNT) },
    { name: 'an audience the provider does not list', reason: 'IncorrectAudience', code: 'InvalidIdentityToken', message: () => stsErrors.incorrectAudience().message, jwt: () => token({ aud: 'someone-else' }) },
    { name: 'a token without aud', reason: 'AudienceMismatch', code: 'InvalidIdentityToken', message: () => stsErrors.missingClaim('aud').message, jwt: () => token({ aud: undefined }) },
    { name: 'a token that is not a JWT', reason: 'TokenMalformed', code: 'InvalidIdentityToken', message: () => stsErrors.notAJwt().message, jwt: () => Promise.resolve('not-a-jwt') },
    { name: 'the identity provider unreachable from STS', reason: 'IdPUnreachable', code: 'IDPCommunicationError', message: () => stsErrors.idpCommunication().message, setup: () => { sts.faults = { idpCommunicationError: true }; } },
    { name: 'the verification key not retrievable by STS', reason: 'IdPUnreachable', code: 'InvalidIdentityToken', message: () => stsErrors.verificationKey().message, setup: () => { sts.faults = { verificationKeyFailure: true }; } },
    { name: 'an expired token (STS\'s clock)', reason: 'TokenExpired', code: 'ExpiredTokenException', message: () => '', setup: () => { sts.clockOffsetSeconds = 7200; } },
    { name: 'a malformed role ARN', reason: 'InvalidRoleArn', code: 'ValidationError', message: () => stsErrors.invalidArn().message, roleArn: `arn:aws:iam::${ACCOUNT}:user/app` },
    { name: 'throttling', reason: 'Throttled', code: 'Throttling', message: () => stsErrors.throttling().message, setup: () => { sts.faults = { throttleRatePerSecond: 0.001 }; } },
    { name: 'an internal failure (HTTP 500)', reason: 'STSUnreachable', code: 'InternalFailure', message: () => stsErrors.internal().message, setup: () => { sts.faults = { internalError: true }; } },
    { name: 'an InvalidIdentityToken message the agent does not know', reason: 'ProbeError', code: 'InvalidIdentityToken', message: () => stsErrors.notYetValid().message, jwt: () => token({ nbf: Math.floor(Date.now() / 1000) + 3600 }) },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.reason} with STS's ${c.code} and its message`, async () => {
      sts.faults = {};
      sts.clockOffsetSeconds = 0;
      c.setup?.();
      sts.requests.length = 0;
      try {
        const outcome = await probe(c.roleArn ?? role('app'), await (c.jwt ?? (() => token()))());
        assert.equal(outcome.reason, c.reason, JSON.stringify(outcome));
        assert.equal(outcome.stsError?.code, c.code);
        const expected = c.message();
        if (c.code === 'ExpiredTokenException') assert.match(outcome.stsError?.message ?? '', /^Token expired: current date\/time \d+ must be before the expiration date\/time \d+$/);
        else assert.equal(outcome.stsError?.message, expected);
        assert.equal(sts.requests.length, 1, 'one attempt: the SDK does not retry');
        assert.equal(sts.requests[0]?.result, c.code);
      } finally {
        sts.faults = {};
        sts.clockOffsetSeconds = 0;
      }
    });
  }

  test('STS unreachable (nothing listens): STSUnreachable, no code, the transport\'s message', async () => {
    const [closed] = await freePorts(1);
    const outcome = await probe(role('app'), await token(), { endpoint: `http://127.0.0.1:${closed}` });
    assert.equal(outcome.reason, 'STSUnreachable');
    assert.equal(outcome.stsAnswered, false);
    assert.equal(outcome.stsError?.code, undefined);
    assert.match(outcome.stsError?.message ?? '', /ECONNREFUSED/);
  });

  test('a {region} endpoint: each region to its own route; a disabled region is RegionDisabled', async () => {
    const endpoint = `${sts.endpoint}/{region}`;
    sts.requests.length = 0;
    const enabled = await probe(role('app'), await token(), { endpoint, region: 'eu-west-1' });
    assert.equal(enabled.reason, 'Healthy', JSON.stringify(enabled));
    const disabled = await probe(role('app'), await token(), { endpoint, region: 'af-south-1' });
    assert.equal(disabled.reason, 'RegionDisabled');
    assert.equal(disabled.stsError?.code, 'RegionDisabledException');
    assert.equal(disabled.stsError?.message, stsErrors.regionDisabled(ACCOUNT).message);
    const defaulted = await probe(role('app'), await token(), { endpoint });
    assert.equal(defaulted.reason, 'Healthy');
    assert.deepEqual(sts.requests.map((r) => r.region), ['eu-west-1', 'af-south-1', 'us-west-2'], 'the agent\'s default region when the pod names none');
  });
});
