// `kube-irsa doctor --from-env` in a child process whose environment is a pod's (the variables the
// webhook injects, the token file, HOME without AWS files), against the STS emulator: it names the
// provider the SDK's default chain picks and checks the token; with static keys as well, the chain
// picks them and the verdict is CredentialsShadowed; a missing token file is TokenUnreadable (2).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { newAccessKeyId } from '../sts-emulator/access-keys.ts';
import { StsEmulator } from '../sts-emulator/emulator.ts';
import { findSecrets } from '../support/log-capture.ts';
import { startTestIssuer, trustFor, type TestIssuer } from '../support/test-issuer.ts';

const CLI = path.join(import.meta.dirname, '..', '..', 'bin', 'kube-irsa');
const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/app`;
const run = promisify(execFile);

describe('kube-irsa doctor --from-env, in a pod\'s environment', () => {
  let issuer: TestIssuer;
  let sts: StsEmulator;
  let dir: string;
  let tokenFile: string;
  let caFile: string;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer();
    sts = await StsEmulator.start({
      extraCaPems: [issuer.https.ca.certPem],
      config: { region: 'us-east-1', accounts: [{ id: ACCOUNT, oidcProviders: [{ url: issuer.url, clientIds: ['sts.amazonaws.com'] }], roles: [{ name: 'app', trustPolicy: trustFor(issuer, ACCOUNT) }] }] },
    });
    dir = await mkdtemp(path.join(os.tmpdir(), 'kube-irsa-from-env-'));
    token = await issuer.sign();
    tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, token);
    caFile = path.join(dir, 'issuer-ca.pem');
    await writeFile(caFile, issuer.https.ca.certPem);
  });
  after(async () => {
    await sts?.stop();
    await issuer?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The environment the webhook gives a pod, and nothing of this machine's but PATH. */
  const podEnv = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir,
    AWS_ROLE_ARN: ROLE, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'eu-west-1', AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    ...extra,
  });

  async function doctor(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
    try {
      const r = await run(CLI, ['doctor', '--from-env', `--sts-endpoint=${sts.endpoint}/{region}`, `--issuer-ca-file=${caFile}`, ...args], { env, timeout: 60_000 });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, out: e.stdout ?? '', err: e.stderr ?? '' };
    }
  }

  test('web identity only: the chain picks web identity, every check passes, exit 0', async () => {
    sts.requests.length = 0;
    const r = await doctor(podEnv());
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /Provider: web identity \(AWS_WEB_IDENTITY_TOKEN_FILE \+ AWS_ROLE_ARN\) — the pod's web identity/);
    assert.match(r.out, /Region: eu-west-1/);
    assert.match(r.out, /✔ the SDK's default chain picks web identity/);
    assert.match(r.out, /Result: Healthy \(healthy\)/);
    // the chain's own call (no session policy, the SDK's session name) and the agent's probe, both in the pod's region
    assert.deepEqual(sts.requests.map((q) => [q.region, q.result, q.sessionPolicy !== undefined]), [['eu-west-1', 'Success', false], ['eu-west-1', 'Success', true]]);
    assert.deepEqual(findSecrets(r.out + r.err), []);
    assert.ok(!(r.out + r.err).includes(token));
  });

  test('static keys as well: the chain picks the environment keys; CredentialsShadowed, exit 2, no value printed', async () => {
    const keys = { AWS_ACCESS_KEY_ID: newAccessKeyId('AKIA'), AWS_SECRET_ACCESS_KEY: randomBytes(30).toString('base64') };
    const r = await doctor(podEnv(keys));
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.out, /Provider: environment keys \(AWS_ACCESS_KEY_ID \+ AWS_SECRET_ACCESS_KEY\) — NOT the pod's web identity/);
    assert.match(r.out, /Also set: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY/);
    assert.match(r.out, /✘ the SDK's default chain picks web identity: environment keys/);
    assert.match(r.out, /Result: CredentialsShadowed \(misconfigured\)/);
    for (const value of Object.values(keys)) assert.ok(!(r.out + r.err).includes(value), 'no key value printed');
    assert.deepEqual(findSecrets(r.out + r.err), []);
    const json = await doctor(podEnv(keys), '--output=json');
    const parsed = JSON.parse(json.out) as { provider: { name: string; webIdentity: boolean }; reason: string; otherCredentials: Array<{ variable: string }> };
    assert.equal(json.code, 2);
    assert.deepEqual([parsed.provider.webIdentity, parsed.reason], [false, 'CredentialsShadowed']);
    assert.deepEqual(parsed.otherCredentials.map((v) => v.variable), ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
  });

  test('the token file missing: TokenUnreadable, exit 2 (not a usage error); the chain fails at web identity', async () => {
    const r = await doctor(podEnv({ AWS_WEB_IDENTITY_TOKEN_FILE: path.join(dir, 'missing') }));
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.out, /Result: TokenUnreadable \(misconfigured\)/);
    assert.match(r.out, /cannot read AWS_WEB_IDENTITY_TOKEN_FILE .*missing \(ENOENT\)/);
    assert.match(r.out, /Provider: none \(.*ENOENT/);
  });

  test('--from-env with a ServiceAccount or --token-file is a usage error (exit 1)', async () => {
    const r = await doctor(podEnv(), 'shop/app');
    assert.equal(r.code, 1);
    assert.match(r.err, /--from-env reads the token file, role and region from the environment/);
  });
});
