// The emulator's IAM reads through the real @aws-sdk/client-iam, and the diagnosis table end to end:
// each misconfiguration is refused by STS for a real token of the test control plane, diagnosed from
// what IAM returns, and its correction, applied to the emulator, is accepted by STS.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  GetOpenIDConnectProviderCommand, GetRoleCommand, IAMClient, ListOpenIDConnectProvidersCommand, NoSuchEntityException,
} from '@aws-sdk/client-iam';
import { AssumeRoleWithWebIdentityCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { newAccessKeyId } from '../sts-emulator/access-keys.ts';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.ts';
import { KubeHelpers } from '../cluster/kube-helpers.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { diagnose, type ProviderFacts } from '../../shared/iam/diagnose.ts';
import { audiencesOf, decodeToken } from '../../shared/oidc/jwt.ts';
import { diagnosisCases } from '../unit/shared/iam/diagnosis-cases.ts';

const ACCOUNT = '111122223333';
const READER = { name: 'kube-irsa', accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: 'r'.repeat(40), allowIamReads: true };
const DENIED = { name: 'intern', accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: 'd'.repeat(40), allowIamReads: false };
// as written, with spaces and a newline, so the URL-encoding round trip is visible
const TRUST_TEXT = (providerArn: string, providerUrl: string, sub: string) => `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Principal": {"Federated": "${providerArn}"}, "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {"StringEquals": {"${providerUrl}:sub": "${sub}", "${providerUrl}:aud": "sts.amazonaws.com"}}}]
}`;

describe('IAM reads and diagnosis against the emulator, with the real AWS SDK', () => {
  let cp: ControlPlane;
  let sts: StsEmulator;
  let token: string;
  let ns: string;
  let providerUrl: string;
  let providerArn: string;

  before(async () => {
    cp = await startControlPlane();
    const kube = new KubeHelpers(cp.kubeConfig);
    ns = await kube.createNamespace('iam');
    await kube.createServiceAccount(ns, 'payments');
    const pod = await kube.createPod(ns, 'payments-0', { serviceAccountName: 'payments' });
    token = await kube.tokenForPod(pod, { audiences: ['sts.amazonaws.com'], expirationSeconds: 3600 });
    providerUrl = cp.issuer.replace('https://', '');
    providerArn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${providerUrl}`;
    const sub = `system:serviceaccount:${ns}:payments`;
    sts = await StsEmulator.start({
      extraCaPems: [cp.ca.certPem],
      config: {
        accounts: [{
          id: ACCOUNT,
          oidcProviders: [{ url: cp.issuer, clientIds: ['sts.amazonaws.com'], thumbprints: ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280'] }],
          roles: [
            { name: 'payments', path: '/shop/', maxSessionDuration: 7200, trustPolicy: TRUST_TEXT(providerArn, providerUrl, sub) },
            { name: 'agent', allowIamReads: true, trustPolicy: TRUST_TEXT(providerArn, providerUrl, sub) },
            { name: 'no-iam', trustPolicy: TRUST_TEXT(providerArn, providerUrl, sub) },
          ],
          users: [READER, DENIED],
        }],
      },
    });
  });
  after(async () => {
    await sts?.stop();
    await cp?.stop();
  });

  const iam = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } = READER) =>
    new IAMClient({ region: 'us-east-1', endpoint: sts.endpoint, credentials, maxAttempts: 1 });
  const stsClient = () => new STSClient({ region: 'us-east-1', endpoint: sts.endpoint, maxAttempts: 1 });
  const assume = (roleArn: string) => stsClient().send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: 'diag', WebIdentityToken: token, DurationSeconds: 900 }));
  async function expectIamError(p: Promise<unknown>, code: string, message: string, status: number): Promise<void> {
    await assert.rejects(p, (err: { name: string; message: string; $metadata?: { httpStatusCode?: number; requestId?: string } }) => {
      assert.equal(err.name, code === 'NoSuchEntity' ? 'NoSuchEntityException' : code);
      assert.equal(err.message, message);
      assert.equal(err.$metadata?.httpStatusCode, status);
      assert.match(err.$metadata?.requestId ?? '', /^[0-9a-f-]{36}$/);
      return true;
    });
  }

  describe('the emulator speaks IAM', () => {
    test('GetRole returns the role with its trust policy URL-encoded exactly as written', async () => {
      const { Role: role } = await iam().send(new GetRoleCommand({ RoleName: 'payments' }));
      assert.ok(role);
      assert.equal(role.Arn, `arn:aws:iam::${ACCOUNT}:role/shop/payments`);
      assert.equal(role.Path, '/shop/');
      assert.equal(role.RoleName, 'payments');
      assert.equal(role.MaxSessionDuration, 7200);
      assert.match(role.RoleId ?? '', /^AROA[A-Z0-9]{17}$/);
      assert.ok(role.CreateDate instanceof Date && Math.abs(role.CreateDate.getTime() - Date.now()) < 120_000);
      assert.match(role.AssumeRolePolicyDocument ?? '', /^%7B%0A%20%20%22Version%22/, 'URL-encoded, as IAM returns it');
      assert.equal(decodeURIComponent(role.AssumeRolePolicyDocument ?? ''), TRUST_TEXT(providerArn, providerUrl, `system:serviceaccount:${ns}:payments`));
    });

    test('GetRole sees a trust-policy change the STS side enforces', async () => {
      const changed = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 'sts:*' }] };
      sts.state.updateTrustPolicy(ACCOUNT, 'no-iam', changed);
      try {
        const { Role: role } = await iam().send(new GetRoleCommand({ RoleName: 'no-iam' }));
        assert.deepEqual(JSON.parse(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '')), changed);
        await assert.rejects(assume(`arn:aws:iam::${ACCOUNT}:role/no-iam`), { name: 'AccessDenied' });
      } finally {
        sts.state.updateTrustPolicy(ACCOUNT, 'no-iam', TRUST_TEXT(providerArn, providerUrl, `system:serviceaccount:${ns}:payments`));
      }
    });

    test('GetRole for a missing role is NoSuchEntity with IAM\'s message', () =>
      expectIamError(iam().send(new GetRoleCommand({ RoleName: 'nope' })), 'NoSuchEntity', 'The role with name nope cannot be found.', 404));

    test('a NoSuchEntity is the SDK\'s modelled exception', async () => {
      await assert.rejects(iam().send(new GetRoleCommand({ RoleName: 'nope' })), (err: unknown) => err instanceof NoSuchEntityException);
    });

    test('a user without permission gets AccessDenied naming the action and the resource', () =>
      expectIamError(iam(DENIED).send(new GetRoleCommand({ RoleName: 'payments' })), 'AccessDenied',
        `User: arn:aws:iam::${ACCOUNT}:user/intern is not authorized to perform: iam:GetRole on resource: role payments because no identity-based policy allows the iam:GetRole action`, 403));

    test('a wrong secret is SignatureDoesNotMatch, an unknown key InvalidClientTokenId', async () => {
      await expectIamError(iam({ ...READER, secretAccessKey: 'x'.repeat(40) }).send(new GetRoleCommand({ RoleName: 'payments' })), 'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.', 403);
      await expectIamError(iam({ accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: READER.secretAccessKey }).send(new GetRoleCommand({ RoleName: 'payments' })),
        'InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    });

    test('a session the emulator issued reads IAM when its role may, and is denied when it may not', async () => {
      const allowed = (await assume(`arn:aws:iam::${ACCOUNT}:role/agent`)).Credentials!;
      const creds = (c: typeof allowed) => ({ accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
      const { Role: role } = await iam(creds(allowed)).send(new GetRoleCommand({ RoleName: 'payments' }));
      assert.equal(role?.RoleName, 'payments');
      const denied = (await assume(`arn:aws:iam::${ACCOUNT}:role/no-iam`)).Credentials!;
      await expectIamError(iam(creds(denied)).send(new ListOpenIDConnectProvidersCommand({})), 'AccessDenied',
        `User: arn:aws:sts::${ACCOUNT}:assumed-role/no-iam/diag is not authorized to perform: iam:ListOpenIDConnectProviders on resource: arn:aws:iam::${ACCOUNT}:oidc-provider/* because no identity-based policy allows the iam:ListOpenIDConnectProviders action`, 403);
    });

    test('ListOpenIDConnectProviders and GetOpenIDConnectProvider return the account\'s provider', async () => {
      const list = await iam().send(new ListOpenIDConnectProvidersCommand({}));
      assert.deepEqual(list.OpenIDConnectProviderList?.map((p) => p.Arn), [providerArn]);
      const provider = await iam().send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }));
      assert.equal(provider.Url, providerUrl);
      assert.deepEqual(provider.ClientIDList, ['sts.amazonaws.com']);
      assert.deepEqual(provider.ThumbprintList, ['9e99a48a9960b14926bb7f3b02e22da2b0ab7280']);
      assert.ok(provider.CreateDate instanceof Date);
    });

    test('GetOpenIDConnectProvider for an unknown provider is NoSuchEntity', () => {
      const arn = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.unknown.example.com`;
      return expectIamError(iam().send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: arn })), 'NoSuchEntity', `OpenIDConnect Provider not found for arn ${arn}`, 404);
    });

    test('an IAM user\'s key also answers GetCallerIdentity', async () => {
      const out = await new STSClient({ region: 'us-east-1', endpoint: sts.endpoint, credentials: READER, maxAttempts: 1 }).send(new GetCallerIdentityCommand({}));
      assert.equal(out.Arn, `arn:aws:iam::${ACCOUNT}:user/kube-irsa`);
      assert.equal(out.Account, ACCOUNT);
    });

    test('IAM reads are in the request log under the role read', () => {
      assert.ok(sts.count({ action: 'GetRole', roleArn: `arn:aws:iam::${ACCOUNT}:role/shop/payments`, result: 'Success' }) >= 2);
    });
  });

  describe('each misconfiguration: STS refuses, the diagnosis names it, STS accepts the correction', () => {
    // the cases are built in `before`, once the issuer and namespace are known; the count is fixed
    const placeholder = diagnosisCases({ providerUrl: 'p', account: ACCOUNT, namespace: 'n', name: 'payments' });
    test(`the table has at least 30 cases (${placeholder.length})`, () => assert.ok(placeholder.length >= 30));

    placeholder.forEach((shape, i) => {
      test(shape.name, async () => {
        const account = String(200000000000 + i);
        const c = diagnosisCases({ providerUrl, account, namespace: ns, name: 'payments' })[i]!;
        const roleArn = `arn:aws:iam::${account}:role/payments`;
        const reader = { name: 'kube-irsa', accessKeyId: newAccessKeyId('AKIA'), secretAccessKey: 's'.repeat(40), allowIamReads: true };
        sts.state.addAccount(account);
        sts.state.putUser(account, reader);
        for (const p of c.providers ?? [{ url: providerUrl, clientIds: ['sts.amazonaws.com'] }]) sts.state.putOidcProvider(account, p);
        if (c.trustPolicy !== undefined) sts.state.putRole(account, { name: 'payments', trustPolicy: c.trustPolicy });

        await assert.rejects(assume(roleArn), (err: { name: string }) => ['AccessDenied', 'InvalidIdentityTokenException'].includes(err.name), 'STS refuses the misconfiguration');

        // what kube-irsa can read: the providers and the role, through IAM
        const client = iam(reader);
        const arns = (await client.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList ?? [];
        const providers: ProviderFacts[] = [];
        for (const { Arn } of arns) {
          const p = await client.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: Arn }));
          providers.push({ url: p.Url ?? '', clientIds: p.ClientIDList ?? [] });
        }
        let trustPolicy: string | undefined;
        try {
          trustPolicy = decodeURIComponent((await client.send(new GetRoleCommand({ RoleName: 'payments' }))).Role?.AssumeRolePolicyDocument ?? '');
        } catch (err) {
          if (!(err instanceof NoSuchEntityException)) throw err;
        }
        const { claims } = decodeToken(token);
        const d = diagnose({ roleArn, trustPolicy, providers, token: { iss: claims.iss ?? '', sub: claims.sub ?? '', aud: audiencesOf(claims) } });

        assert.deepEqual(d.findings.map((f) => f.cause), c.expect.causes);
        assert.equal(d.findings[0]?.statement?.index, c.expect.statement);
        if (c.expect.sid !== undefined) assert.equal(d.findings[0]?.statement?.sid, c.expect.sid);
        if (c.expect.condition) {
          assert.equal(d.findings[0]?.condition?.key, c.expect.condition.key);
          assert.equal(d.findings[0]?.condition?.operator, c.expect.condition.operator);
        }
        if (c.expect.subject) assert.deepEqual(d.findings[0]?.subject, c.expect.subject);
        assert.ok(d.findings[0]?.change.includes(c.expect.change), d.findings[0]?.change);
        const text = JSON.stringify(d);
        assert.ok(!text.includes(token) && !text.includes(token.split('.')[2] ?? token), 'no token in a diagnosis');
        assert.equal(d.resolved, true);

        if (d.correctedProvider) sts.state.putOidcProvider(account, d.correctedProvider);
        if (d.correctedTrustPolicy) {
          if (trustPolicy === undefined) sts.state.putRole(account, { name: 'payments', trustPolicy: d.correctedTrustPolicy });
          else sts.state.updateTrustPolicy(account, 'payments', d.correctedTrustPolicy);
        }
        const out = await assume(roleArn);
        assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${account}:assumed-role/payments/diag`);
      });
    });
  });
});
