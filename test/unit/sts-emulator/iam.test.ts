// The emulator's IAM side without the network: who may read, what each read answers (the wire
// through the real SDK is in test/integration/iam-diagnosis.test.ts), and configuration errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { newAccessKeyId } from '../../../test/sts-emulator/access-keys.ts';
import { authenticate, Sha256, type IssuedSession } from '../../../test/sts-emulator/caller-identity.ts';
import { StsError } from '../../../test/sts-emulator/errors.ts';
import { handleIam, mayReadIam } from '../../../test/sts-emulator/iam.ts';
import { ConfigError, IamState, parseEmulatorConfig } from '../../../test/sts-emulator/state.ts';

const ACCOUNT = '111122223333';
const OPS_KEY = newAccessKeyId('AKIA');
const OTHER = '444455556666';
const POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}';

function state(): IamState {
  return IamState.fromConfig({
    accounts: [
      {
        id: ACCOUNT,
        oidcProviders: [{ url: 'https://oidc.example.com', clientIds: ['sts.amazonaws.com'] }],
        roles: [{ name: 'reader', allowIamReads: true, trustPolicy: POLICY }, { name: 'app', path: '/team/', trustPolicy: POLICY }],
        users: [{ name: 'ops', accessKeyId: OPS_KEY, secretAccessKey: 'o'.repeat(40), allowIamReads: true }],
      },
      { id: OTHER, oidcProviders: [{ url: 'oidc.other.example.com', clientIds: ['sts.amazonaws.com'] }] },
    ],
  });
}
const session = (role: string, account = ACCOUNT): IssuedSession => ({
  accessKeyId: newAccessKeyId('ASIA'), secretAccessKey: 's', sessionToken: 't', expiration: undefined,
  arn: `arn:aws:sts::${account}:assumed-role/${role}/s`, userId: 'AROA:s', account,
});
const user: IssuedSession = { accessKeyId: OPS_KEY, secretAccessKey: 'o'.repeat(40), sessionToken: undefined, expiration: undefined, arn: `arn:aws:iam::${ACCOUNT}:user/ops`, userId: 'AIDA', account: ACCOUNT };
const call = (s: IamState, action: string, params: Record<string, string>, caller: IssuedSession = user) =>
  handleIam(s, { action, params: new URLSearchParams(params), caller }, 'req-1');
function throwsIam(fn: () => unknown, code: string, status: number, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof StsError);
    assert.equal(err.code, code);
    assert.equal(err.status, status);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('emulator IAM reads', () => {
  test('a user reads by its own flag; a session by its role\'s flag; a role that is gone reads nothing', () => {
    const s = state();
    assert.equal(mayReadIam(s, user), true);
    assert.equal(mayReadIam(s, session('reader')), true);
    assert.equal(mayReadIam(s, session('app')), false);
    s.deleteRole(ACCOUNT, 'reader');
    assert.equal(mayReadIam(s, session('reader')), false);
  });

  test('GetRole answers in IAM\'s namespace with the document URL-encoded and the path in the ARN', () => {
    const { xml, resource } = call(state(), 'GetRole', { RoleName: 'app' });
    assert.equal(resource, `arn:aws:iam::${ACCOUNT}:role/team/app`);
    assert.match(xml, /^<GetRoleResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/">/);
    assert.match(xml, /<Path>\/team\/<\/Path>/);
    assert.ok(xml.includes(`<AssumeRolePolicyDocument>${encodeURIComponent(POLICY)}</AssumeRolePolicyDocument>`));
    assert.match(xml, /<MaxSessionDuration>3600<\/MaxSessionDuration>/);
    assert.match(xml, /<CreateDate>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/CreateDate>/);
    assert.match(xml, /<RequestId>req-1<\/RequestId>/);
  });

  test('a caller reads its own account only', () => {
    throwsIam(() => call(state(), 'GetRole', { RoleName: 'app' }, session('x', OTHER)), 'AccessDenied', 403,
      `User: arn:aws:sts::${OTHER}:assumed-role/x/s is not authorized to perform: iam:GetRole on resource: role app because no identity-based policy allows the iam:GetRole action`);
    throwsIam(() => call(state(), 'GetOpenIDConnectProvider', { OpenIDConnectProviderArn: `arn:aws:iam::${OTHER}:oidc-provider/oidc.other.example.com` }), 'AccessDenied', 403, /iam:GetOpenIDConnectProvider on resource: arn:aws:iam::444455556666/);
    const list = call(state(), 'ListOpenIDConnectProviders', {}).xml;
    assert.ok(list.includes(`<Arn>arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com</Arn>`));
    assert.ok(!list.includes(OTHER));
  });

  test('errors: missing parameters, a malformed provider ARN, entities that do not exist', () => {
    const s = state();
    throwsIam(() => call(s, 'GetRole', {}), 'ValidationError', 400, "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null");
    throwsIam(() => call(s, 'GetOpenIDConnectProvider', {}), 'ValidationError', 400, /'openIDConnectProviderArn'/);
    throwsIam(() => call(s, 'GetOpenIDConnectProvider', { OpenIDConnectProviderArn: 'oidc.example.com' }), 'ValidationError', 400, 'ARN oidc.example.com is not valid.');
    throwsIam(() => call(s, 'GetRole', { RoleName: 'gone' }), 'NoSuchEntity', 404, 'The role with name gone cannot be found.');
    throwsIam(() => call(s, 'GetOpenIDConnectProvider', { OpenIDConnectProviderArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/x.example.com` }), 'NoSuchEntity', 404,
      `OpenIDConnect Provider not found for arn arn:aws:iam::${ACCOUNT}:oidc-provider/x.example.com`);
  });

  test('the provider answer carries URL, client IDs, thumbprints and creation date', () => {
    const { xml } = call(state(), 'GetOpenIDConnectProvider', { OpenIDConnectProviderArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com` });
    assert.match(xml, /<Url>oidc\.example\.com<\/Url>/);
    assert.match(xml, /<ClientIDList>\s*<member>sts\.amazonaws\.com<\/member>\s*<\/ClientIDList>/);
    assert.match(xml, /<ThumbprintList>\s*<member>[0-9a-f]{40}<\/member>\s*<\/ThumbprintList>/);
  });

  test('an IAM user in the configuration is validated with its path', () => {
    const config = (users: unknown) => ({ accounts: [{ id: ACCOUNT, users }] });
    assert.throws(() => parseEmulatorConfig(config([{ name: 'ops', accessKeyId: 'ASIA123', secretAccessKey: 'short' }]), 'emulator.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        'accounts[0].users[0].accessKeyId: must be AKIA followed by 16 characters of A-Z2-7',
        'accounts[0].users[0].secretAccessKey: must be 40 characters',
        'accounts[0].users[0].allowIamReads: must be true or false',
      ]);
      return true;
    });
    assert.throws(() => parseEmulatorConfig({ accounts: [{ id: ACCOUNT, roles: [{ name: 'r', trustPolicy: POLICY, allowIamReads: 'yes' }] }] }, 'e.yaml'), /roles\[0\]\.allowIamReads: must be true or false/);
    assert.throws(() => parseEmulatorConfig({ accounts: [{ id: ACCOUNT, oidcProviders: [{ url: 'oidc.example.com', clientIds: ['sts.amazonaws.com'], thumbprints: ['abc'] }] }] }, 'e.yaml'),
      /oidcProviders\[0\]\.thumbprints: a list of up to 5 SHA-1 fingerprints, 40 hex digits each/);
  });
});

describe('SigV4 for the IAM reads', () => {
  const body = 'Action=GetRole&Version=2010-05-08&RoleName=app';
  async function signed(service: string, secretAccessKey = user.secretAccessKey) {
    const signer = new SignatureV4({ service, region: 'us-east-1', sha256: Sha256, credentials: { accessKeyId: user.accessKeyId, secretAccessKey } });
    const req = await signer.sign({
      method: 'POST', protocol: 'http:', hostname: '127.0.0.1', path: '/', query: {}, body,
      headers: { host: '127.0.0.1:4566', 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    });
    return { method: 'POST', url: '/', headers: req.headers, body };
  }
  const callers = (id: string) => (id === user.accessKeyId ? user : undefined);

  test('a request signed for iam by the user\'s key authenticates as the user', async () => {
    assert.equal((await authenticate(await signed('iam'), callers, new Date(), 'iam')).arn, `arn:aws:iam::${ACCOUNT}:user/ops`);
  });

  test('a request scoped to another service is refused as IAM refuses it', async () => {
    await assert.rejects(authenticate(await signed('sts'), callers, new Date(), 'iam'), (err: unknown) => {
      assert.ok(err instanceof StsError);
      assert.deepEqual([err.code, err.status, err.message], ['SignatureDoesNotMatch', 403, "Credential should be scoped to correct service: 'iam'. "]);
      return true;
    });
  });

  test('a wrong secret does not match', async () => {
    await assert.rejects(authenticate(await signed('iam', 'x'.repeat(40)), callers, new Date(), 'iam'), { code: 'SignatureDoesNotMatch', status: 403 });
  });
});
