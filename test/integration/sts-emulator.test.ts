// The STS emulator through the real AWS SDK, with tokens minted by the real API server and verified
// against its real OIDC discovery and JWKS. Every error is asserted on its code and exact message.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient, type AssumeRoleWithWebIdentityCommandInput } from '@aws-sdk/client-sts';
import { fromTokenFile, fromWebToken } from '@aws-sdk/credential-providers';
import { newAccessKeyId } from '../sts-emulator/access-keys.ts';
import { startControlPlane, freePorts, type ControlPlane } from '../cluster/control-plane.ts';
import { KubeHelpers } from '../cluster/kube-helpers.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { STS_VERIFICATION_KEY_MESSAGE } from '../sts-emulator/errors.ts';
import { decodeToken } from '../../shared/oidc/jwt.ts';
import { foreignToken } from '../support/foreign-token.ts';

const ACCOUNT = '111122223333';
const NO_PROVIDER_ACCOUNT = '444455556666';
const DENY_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}';

describe('STS emulator with the real AWS SDK', () => {
  let cp: ControlPlane;
  let sts: StsEmulator;
  let kube: KubeHelpers;
  let ns: string;
  let token: string;
  let otherAudienceToken: string;
  let providerUrl: string;
  let tmp: string;
  const roleArn = (name: string, account = ACCOUNT) => `arn:aws:iam::${account}:role/${name}`;

  before(async () => {
    cp = await startControlPlane();
    kube = new KubeHelpers(cp.kubeConfig);
    ns = await kube.createNamespace('sts');
    await kube.createServiceAccount(ns, 'app');
    const pod = await kube.createPod(ns, 'app-0', { serviceAccountName: 'app' });
    token = await kube.tokenForPod(pod, { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 });
    otherAudienceToken = await kube.tokenForPod(pod, { audiences: ['other-audience'] });
    providerUrl = cp.issuer.replace('https://', '');
    const providerArn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}`;
    const trust = (sub: string, op = 'StringEquals') => ({
      Version: '2012-10-17',
      Statement: [{
        Effect: 'Allow', Principal: { Federated: providerArn }, Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { [op]: { [`${providerUrl}:sub`]: sub, [`${providerUrl}:aud`]: 'sts.amazonaws.com' } },
      }],
    });
    sts = await StsEmulator.start({
      extraCaPems: [cp.ca.certPem],
      config: {
        region: 'us-west-2',
        disabledRegions: ['af-south-1'],
        accounts: [
          {
            id: ACCOUNT,
            oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'] }],
            roles: [
              { name: 'app', trustPolicy: trust(`system:serviceaccount:${ns}:app`), maxSessionDuration: 7200 },
              { name: 'wrong-namespace', trustPolicy: trust('system:serviceaccount:other:app') },
              { name: 'equals-with-wildcard', trustPolicy: trust(`system:serviceaccount:${ns}:*`) },
              { name: 'like-with-wildcard', trustPolicy: trust(`system:serviceaccount:${ns}:*`, 'StringLike') },
            ],
          },
          { id: NO_PROVIDER_ACCOUNT, roles: [] },
        ],
      },
    });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-sts-'));
  });
  after(async () => {
    await sts?.stop();
    await cp?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const client = (region = 'us-west-2', endpoint = sts.endpoint) => new STSClient({ region, endpoint, maxAttempts: 1 });
  const assume = (input: Partial<AssumeRoleWithWebIdentityCommandInput>, c = client()) => c.send(new AssumeRoleWithWebIdentityCommand({
    RoleArn: roleArn('app'), RoleSessionName: 'kube-irsa-test', WebIdentityToken: token, DurationSeconds: 900, ...input,
  }));
  async function expectStsError(p: Promise<unknown>, code: string, message: string | RegExp, status?: number): Promise<void> {
    await assert.rejects(p, (err: { Code?: string; message: string; $metadata?: { httpStatusCode?: number; requestId?: string } }) => {
      assert.equal(err.Code, code);
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      if (status !== undefined) assert.equal(err.$metadata?.httpStatusCode, status);
      assert.match(err.$metadata?.requestId ?? '', /^[0-9a-f-]{36}$/, 'x-amzn-requestid is read by the SDK');
      return true;
    });
  }

  test('STSClient gets credentials shaped like real ones for a valid token', async () => {
    const before = Date.now();
    const out = await assume({});
    const c = out.Credentials!;
    assert.match(c.AccessKeyId!, /^ASIA[A-Z2-7]{16}$/);
    assert.equal(c.SecretAccessKey!.length, 40);
    assert.ok(c.SessionToken!.length > 100);
    const ttl = (c.Expiration!.getTime() - before) / 1000;
    assert.ok(ttl > 890 && ttl <= 901, `expiration is now + 900 s (${ttl})`);
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/kube-irsa-test`);
    assert.match(out.AssumedRoleUser.AssumedRoleId!, /^AROA[A-Z0-9]{17}:kube-irsa-test$/);
    assert.equal(out.Provider, `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}`);
    assert.equal(out.Audience, 'sts.amazonaws.com');
    assert.equal(out.SubjectFromWebIdentityToken, `system:serviceaccount:${ns}:app`);
  });

  test('a deny-all session policy still succeeds (the agent probe) and reports PackedPolicySize', async () => {
    const out = await assume({ Policy: DENY_ALL });
    assert.ok(out.Credentials?.AccessKeyId);
    assert.ok((out.PackedPolicySize ?? 0) > 0);
  });

  test('fromWebToken with a client endpoint gets credentials', async () => {
    const creds = await fromWebToken({ roleArn: roleArn('app'), webIdentityToken: token, roleSessionName: 'web-token', clientConfig: { endpoint: sts.endpoint, region: 'us-west-2' } })();
    assert.match(creds.accessKeyId, /^ASIA/);
    assert.equal(creds.accountId, ACCOUNT);
  });

  test('fromTokenFile reads the projected token file and gets credentials', async () => {
    const file = path.join(tmp, 'token');
    await writeFile(file, token);
    const creds = await fromTokenFile({ webIdentityTokenFile: file, roleArn: roleArn('app'), roleSessionName: 'token-file', clientConfig: { endpoint: sts.endpoint, region: 'us-west-2' } })();
    assert.match(creds.accessKeyId, /^ASIA/);
    assert.ok(creds.expiration && creds.expiration.getTime() > Date.now());
  });

  describe('input validation', () => {
    test('a session name outside [\\w+=,.@-]*', () => expectStsError(assume({ RoleSessionName: 'team/app' }), 'ValidationError',
      "1 validation error detected: Value 'team/app' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*", 400));
    test('a session name over 64 characters', () => expectStsError(assume({ RoleSessionName: 'a'.repeat(65) }), 'ValidationError',
      `1 validation error detected: Value '${'a'.repeat(65)}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64`));
    test('DurationSeconds above 43200', () => expectStsError(assume({ DurationSeconds: 86400 }), 'ValidationError',
      "1 validation error detected: Value '86400' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"));
    test('DurationSeconds below 900', () => expectStsError(assume({ DurationSeconds: 600 }), 'ValidationError',
      "1 validation error detected: Value '600' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"));
    test('DurationSeconds above the role maximum', () => expectStsError(assume({ DurationSeconds: 10800 }), 'ValidationError',
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'));
    test('a too-short token, value omitted as sensitive', () => expectStsError(assume({ WebIdentityToken: 'abc' }), 'ValidationError',
      "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4"));
    test('several problems are listed together', () => expectStsError(assume({ RoleSessionName: 'a b', DurationSeconds: 60 }), 'ValidationError',
      "2 validation errors detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*; Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"));
    test('a malformed role ARN', () => expectStsError(assume({ RoleArn: 'arn:aws:iam::::1234567890:role/example' }), 'ValidationError', 'Request ARN is invalid', 400));
    test('a session policy that is not JSON', () => expectStsError(assume({ Policy: 'not json' }), 'MalformedPolicyDocument', 'Syntax errors in policy.', 400));
  });

  describe('token and provider checks', () => {
    test('not a JWT', () => expectStsError(assume({ WebIdentityToken: 'this-is-not-a-jwt' }), 'InvalidIdentityToken',
      'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)', 400));
    test('no OIDC provider for the issuer in the role\'s account', () => expectStsError(assume({ RoleArn: roleArn('app', NO_PROVIDER_ACCOUNT) }), 'InvalidIdentityToken',
      `No OpenIDConnect provider found in your account for ${cp.issuer}`, 400));
    test('a token audience missing from the provider\'s client IDs', () => expectStsError(assume({ WebIdentityToken: otherAudienceToken }), 'InvalidIdentityToken',
      'Incorrect token audience', 400));
    test('a token without aud', async () => expectStsError(assume({ WebIdentityToken: await foreignToken({ iss: cp.issuer, sub: 'system:serviceaccount:x:y' }) }),
      'InvalidIdentityToken', 'Missing a required claim: aud'));
    test('a token signed by a key missing from the JWKS', async () => expectStsError(
      assume({ WebIdentityToken: await foreignToken({ iss: cp.issuer, sub: `system:serviceaccount:${ns}:app`, aud: 'sts.amazonaws.com' }) }),
      'InvalidIdentityToken', STS_VERIFICATION_KEY_MESSAGE, 400));
    test('an issuer whose discovery is unreachable', async () => {
      const [closed] = await freePorts(1);
      const issuer = `https://127.0.0.1:${closed}`;
      sts.state.putOidcProvider(ACCOUNT, { url: issuer, clientIds: ['sts.amazonaws.com'] });
      await expectStsError(assume({ WebIdentityToken: await foreignToken({ iss: issuer, sub: 'system:serviceaccount:x:y', aud: 'sts.amazonaws.com' }) }),
        'InvalidIdentityToken', STS_VERIFICATION_KEY_MESSAGE, 400);
      assert.match(STS_VERIFICATION_KEY_MESSAGE, /provider, {2}please/, 'the real message has two spaces after the comma');
    });
    test('an expired token', async () => {
      const exp = decodeToken(token).claims.exp!;
      sts.clockOffsetSeconds = 7200;
      try {
        await expectStsError(assume({}), 'ExpiredTokenException', new RegExp(`^Token expired: current date/time \\d{10} must be before the expiration date/time ${exp}$`), 400);
      } finally {
        sts.clockOffsetSeconds = 0;
      }
    });
  });

  describe('trust policy', () => {
    test('a trust policy naming the wrong namespace in sub', () => expectStsError(assume({ RoleArn: roleArn('wrong-namespace') }), 'AccessDenied',
      'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403));
    test('StringEquals with a wildcard does not match', () => expectStsError(assume({ RoleArn: roleArn('equals-with-wildcard') }), 'AccessDenied',
      'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403));
    test('StringLike with the same wildcard matches', async () => {
      assert.ok((await assume({ RoleArn: roleArn('like-with-wildcard') })).Credentials);
    });
    test('a role that does not exist is the same AccessDenied', () => expectStsError(assume({ RoleArn: roleArn('nope') }), 'AccessDenied',
      'Not authorized to perform sts:AssumeRoleWithWebIdentity', 403));
    test('a fixed trust policy is honoured at once', async () => {
      await expectStsError(assume({ RoleArn: roleArn('wrong-namespace') }), 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
      sts.state.updateTrustPolicy(ACCOUNT, 'wrong-namespace', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}` }, Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${providerUrl}:sub`]: `system:serviceaccount:${ns}:app` } } }],
      });
      assert.ok((await assume({ RoleArn: roleArn('wrong-namespace') })).Credentials);
    });
  });

  describe('faults', () => {
    test('a disabled region answers RegionDisabledException', () => expectStsError(assume({}, client('af-south-1', sts.endpointFor('af-south-1'))),
      'RegionDisabledException',
      `STS is not activated in this region for account:${ACCOUNT}. Your account administrator can activate STS in this region using the IAM Console.`, 403));
    test('the rate limit answers Throttling: Rate exceeded', async () => {
      sts.faults = { throttleRatePerSecond: 1 };
      try {
        const results = await Promise.allSettled([assume({}), assume({}), assume({})]);
        const throttled = results.filter((r) => r.status === 'rejected' && (r.reason as { Code?: string }).Code === 'Throttling');
        assert.ok(throttled.length >= 2, `at most one of three requests passes a 1/s bucket (${throttled.length} throttled)`);
        await expectStsError(assume({}), 'Throttling', 'Rate exceeded', 400);
      } finally {
        sts.faults = {};
      }
    });
    test('forced IDPCommunicationError', async () => {
      sts.faults = { idpCommunicationError: true };
      try {
        await expectStsError(assume({}), 'IDPCommunicationError', /^The identity provider .* could not be reached/, 400);
      } finally {
        sts.faults = {};
      }
    });
    test('forced verification-key failure, narrowed to one role', async () => {
      sts.faults = { verificationKeyFailure: true, roleArns: [roleArn('app')] };
      try {
        await expectStsError(assume({}), 'InvalidIdentityToken', STS_VERIFICATION_KEY_MESSAGE);
        assert.ok((await assume({ RoleArn: roleArn('like-with-wildcard') })).Credentials, 'other roles are unaffected');
      } finally {
        sts.faults = {};
      }
    });
    test('added latency delays the answer', async () => {
      sts.faults = { latencyMs: 300 };
      try {
        const started = Date.now();
        await assume({});
        assert.ok(Date.now() - started >= 300);
      } finally {
        sts.faults = {};
      }
    });
  });

  describe('wire protocol', () => {
    const post = (body: string, headers: Record<string, string> = {}) => fetch(`${sts.endpoint}/`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...headers }, body, redirect: 'manual',
    });
    const form = (extra: Record<string, string> = {}) => new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity', Version: '2011-06-15', RoleArn: roleArn('app'), RoleSessionName: 'raw', WebIdentityToken: token, ...extra,
    }).toString();

    test('answers XML with the real element names and an x-amzn-requestid header', async () => {
      const res = await post(form(), { authorization: 'AWS4-HMAC-SHA256 ignored' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/xml');
      const body = await res.text();
      assert.match(body, /^<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">/);
      assert.match(body, /<Expiration>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/Expiration>/);
      assert.match(body, new RegExp(`<RequestId>${res.headers.get('x-amzn-requestid')}</RequestId>`));
    });
    test('accepts GET with a query string and answers JSON with epoch Expiration when asked', async () => {
      const res = await fetch(`${sts.endpoint}/?${form()}`, { headers: { accept: 'application/json' } });
      assert.equal(res.status, 200);
      const json = await res.json() as { AssumeRoleWithWebIdentityResponse: { AssumeRoleWithWebIdentityResult: { Credentials: { Expiration: number } } } };
      assert.equal(typeof json.AssumeRoleWithWebIdentityResponse.AssumeRoleWithWebIdentityResult.Credentials.Expiration, 'number');
    });
    test('errors are an ErrorResponse with Type, Code, Message and a sibling RequestId', async () => {
      const res = await post(form({ RoleArn: roleArn('wrong-namespace-x') }));
      assert.equal(res.status, 403);
      const body = await res.text();
      assert.match(body, /<ErrorResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/">\s*<Error>\s*<Type>Sender<\/Type>\s*<Code>AccessDenied<\/Code>\s*<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity<\/Message>\s*<\/Error>\s*<RequestId>[0-9a-f-]{36}<\/RequestId>/);
    });
    test('a missing Version is InvalidAction NO_VERSION_SPECIFIED', async () => {
      const res = await post('Action=AssumeRoleWithWebIdentity');
      assert.equal(res.status, 400);
      assert.match(await res.text(), /<Code>InvalidAction<\/Code>\s*<Message>Could not find operation AssumeRoleWithWebIdentity for version NO_VERSION_SPECIFIED<\/Message>/);
    });
    test('an unknown action is InvalidAction', async () => {
      const res = await post('Action=NoSuchAction&Version=2011-06-15');
      assert.match(await res.text(), /Could not find operation NoSuchAction for version 2011-06-15/);
    });
    test('a POST without a form body is redirected like the real front end', async () => {
      const res = await fetch(`${sts.endpoint}/`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), 'https://aws.amazon.com/iam');
    });
  });

  describe('GetCallerIdentity with the credentials it issued (SigV4, checked with the SDK\'s signer)', () => {
    const callerClient = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
      new STSClient({ region: 'us-west-2', endpoint: sts.endpoint, maxAttempts: 1, credentials });

    test('answers with the assumed-role ARN, UserId and Account for the session', async () => {
      const credentials = await fromWebToken({ roleArn: roleArn('app'), webIdentityToken: token, roleSessionName: 'whoami', clientConfig: { region: 'us-west-2', endpoint: sts.endpoint } })();
      const out = await callerClient(credentials).send(new GetCallerIdentityCommand({}));
      assert.equal(out.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/app/whoami`);
      assert.equal(out.Account, ACCOUNT);
      assert.match(out.UserId ?? '', /^AROA[A-Z0-9]{17}:whoami$/);
    });

    test('a wrong secret, an unknown key, an expired session and no signature each get STS\'s answer', async () => {
      const credentials = await fromWebToken({ roleArn: roleArn('app'), webIdentityToken: token, roleSessionName: 'whoami-2', clientConfig: { region: 'us-west-2', endpoint: sts.endpoint } })();
      const expectError = async (creds: Parameters<typeof callerClient>[0], code: string, message: string) => {
        await assert.rejects(callerClient(creds).send(new GetCallerIdentityCommand({})), (err: Error) => {
          assert.equal(err.name, code);
          assert.equal(err.message, message);
          return true;
        });
      };
      // another secret: its first character changed (to one it cannot already be)
      const wrongSecret = `${credentials.secretAccessKey.startsWith('x') ? 'y' : 'x'}${credentials.secretAccessKey.slice(1)}`;
      await expectError({ ...credentials, secretAccessKey: wrongSecret }, 'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
      await expectError({ ...credentials, accessKeyId: newAccessKeyId('ASIA') }, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
      await expectError({ ...credentials, sessionToken: 'IQoJb3JpZ2luX2VjEnot-the-token' }, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
      sts.clockOffsetSeconds = 7200;
      try {
        await expectError(credentials, 'ExpiredToken', 'The security token included in the request is expired');
      } finally {
        sts.clockOffsetSeconds = 0;
      }
      const unsigned = await fetch(sts.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetCallerIdentity&Version=2011-06-15' });
      assert.equal(unsigned.status, 403);
      assert.match(await unsigned.text(), /<Code>MissingAuthenticationToken<\/Code>\s*<Message>Request is missing Authentication Token<\/Message>/);
    });
  });

  test('the request log and counters hold results per role and never a token', () => {
    const counters = sts.counters();
    assert.ok((counters[roleArn('app')]?.Success ?? 0) >= 3);
    assert.ok((counters[roleArn('wrong-namespace')]?.AccessDenied ?? 0) >= 1);
    assert.equal(sts.count({ roleArn: roleArn('app'), result: 'Success' }), counters[roleArn('app')]?.Success);
    const logged = JSON.stringify(sts.requests);
    assert.ok(!logged.includes(token) && !/eyJ[\w-]+\.eyJ/.test(logged), 'no token in the request log');
  });
});

describe('STS emulator, standalone', () => {
  const MAIN = path.join(import.meta.dirname, '..', 'sts-emulator', 'main.ts');
  const run = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      // one SIGTERM only: a second one during shutdown kills it the default way (no exit code)
      if (stdout.includes('listening on') && child.signalCode === null && !child.killed) child.kill('SIGTERM');
    });
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });

  test('rejects a malformed configuration at start with file, path and reason', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-sts-cfg-'));
    try {
      const file = path.join(dir, 'bad.yaml');
      await writeFile(file, 'accounts:\n  - id: 1234\n    roles:\n      - name: app\n        trustPolicy: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:*", "Condition": {"StringEqualz": {"k": "v"}}}]}\n');
      const r = await run(['--config', file]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid STS emulator configuration`));
      assert.match(r.stderr, /accounts\[0\]\.id: must be a 12-digit account id/);
      assert.match(r.stderr, /accounts\[0\]\.roles\[0\]\.trustPolicy\.Statement\[0\]\.Condition\.StringEqualz: unsupported condition operator "StringEqualz"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('prints its endpoint and stops on SIGTERM', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-sts-cfg-'));
    try {
      const file = path.join(dir, 'ok.yaml');
      await writeFile(file, 'region: eu-west-1\naccounts:\n  - id: "111122223333"\n    oidcProviders:\n      - url: https://issuer.example.com\n        clientIds: [sts.amazonaws.com]\n');
      const r = await run(['--config', file, '--port', '0']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /STS emulator listening on http:\/\/127\.0\.0\.1:\d+ \(region eu-west-1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
