// The pure parts behind CredentialsShadowed, {region} endpoints and reading STS's answer through a
// credential provider: which variables shadow web identity and from where (never a value), what the
// pod cache keeps of them, and the wire code and message of an SDK error.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { envFromSources, shadowedFinding, shadowingVariables, type EnvSourceKeys } from '../../../agent/core/shadowed-credentials.ts';
import { stsEndpointFor, stsEndpointProblem } from '../../../agent/core/sts-endpoint.ts';
import { stsFailureOf } from '../../../agent/core/verdicts.ts';
import type { AgentPod } from '../../../agent/core/pod-checks.ts';
import { winningProvider } from '../../../agent/core/winning-provider.ts';
import { credentialKeyNames, EnvSourceReader } from '../../../agent/watch/env-sources.ts';
import { ApiException } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { compactPod } from '../../../agent/watch/pods.ts';

const pod = (containers: NonNullable<AgentPod['spec']>['containers'], initContainers: NonNullable<AgentPod['spec']>['initContainers'] = []): AgentPod => ({ spec: { containers, initContainers } });
const none: EnvSourceKeys = () => undefined;

describe('shadowing variables', () => {
  test('static keys in env: both named, with their container', () => {
    const found = shadowingVariables(pod([{ name: 'app', env: [{ name: 'AWS_ACCESS_KEY_ID', value: 'k' }, { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'aws' } } }] }]), none);
    assert.deepEqual(found, [
      { variable: 'AWS_ACCESS_KEY_ID', container: 'app', from: 'env' },
      { variable: 'AWS_SECRET_ACCESS_KEY', container: 'app', from: 'env from Secret aws' },
    ]);
    const finding = shadowedFinding(found);
    assert.equal(finding?.reason, 'CredentialsShadowed');
    assert.match(finding?.detail ?? '', /^the pod also carries AWS_ACCESS_KEY_ID in container app \(env\), AWS_SECRET_ACCESS_KEY in container app \(env from Secret aws\); static keys: the JS v3, boto3, Go v2 and Java v2 SDKs all use them/);
    assert.doesNotMatch(finding?.detail ?? '', /\bk\b.*\bk\b/, 'no value');
  });

  test('one static key without the other is no credential', () => {
    assert.deepEqual(shadowingVariables(pod([{ name: 'app', env: [{ name: 'AWS_ACCESS_KEY_ID', value: 'k' }] }]), none), []);
  });

  test('AWS_PROFILE, and an empty value that sets nothing', () => {
    assert.deepEqual(shadowingVariables(pod([{ name: 'app', env: [{ name: 'AWS_PROFILE', value: 'prod' }] }]), none), [{ variable: 'AWS_PROFILE', container: 'app', from: 'env' }]);
    assert.deepEqual(shadowingVariables(pod([{ name: 'app', env: [{ name: 'AWS_PROFILE', value: '' }] }]), none), []);
  });

  test('envFrom: the source\'s key names with the prefix; env overrides; init containers count', () => {
    const keys: EnvSourceKeys = (kind, name) => (kind === 'Secret' && name === 'keys' ? ['ACCESS_KEY_ID', 'SECRET_ACCESS_KEY'] : kind === 'ConfigMap' && name === 'cfg' ? ['AWS_PROFILE', 'LOG_LEVEL'] : undefined);
    const p = pod(
      [{ name: 'app', envFrom: [{ prefix: 'AWS_', secretRef: { name: 'keys' } }, { configMapRef: { name: 'cfg' } }], env: [{ name: 'AWS_PROFILE', value: '' }] }],
      [{ name: 'init', envFrom: [{ configMapRef: { name: 'cfg' } }] }],
    );
    assert.deepEqual(shadowingVariables(p, keys), [
      { variable: 'AWS_PROFILE', container: 'init', from: 'envFrom ConfigMap cfg' },
      { variable: 'AWS_ACCESS_KEY_ID', container: 'app', from: 'envFrom Secret keys' },
      { variable: 'AWS_SECRET_ACCESS_KEY', container: 'app', from: 'envFrom Secret keys' },
    ]);
    assert.deepEqual(envFromSources(p), [{ kind: 'ConfigMap', name: 'cfg' }, { kind: 'Secret', name: 'keys' }]);
  });

  test('container credentials: reported, unless the webhook injected them (EKS Pod Identity)', () => {
    const p = pod([{ name: 'app', env: [{ name: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', value: 'http://169.254.170.23/v1/credentials' }] }]);
    assert.match(shadowedFinding(shadowingVariables(p, none))?.detail ?? '', /AWS_CONTAINER_CREDENTIALS_FULL_URI in container app \(env\); container credentials: .*take web identity first/);
    assert.deepEqual(shadowingVariables(p, none, true), []);
  });

  test('a pod with web identity only has nothing', () => {
    const p = pod([{ name: 'app', env: [{ name: 'AWS_ROLE_ARN', value: 'arn:aws:iam::111122223333:role/a' }, { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: '/t' }, { name: 'AWS_REGION', value: 'us-west-2' }] }]);
    assert.equal(shadowedFinding(shadowingVariables(p, none)), undefined);
  });

  test('only credential-like key names survive a source read', () => {
    assert.deepEqual(credentialKeyNames(['AWS_ACCESS_KEY_ID', 'SECRET_ACCESS_KEY', 'PASSWORD', 'DB_URL', 'AWS_PROFILE']), ['AWS_ACCESS_KEY_ID', 'SECRET_ACCESS_KEY', 'AWS_PROFILE']);
  });

  test('the pod cache keeps a valueFrom reference\'s name and envFrom, never a value', () => {
    const compact = compactPod({
      metadata: { name: 'p', namespace: 'ns', uid: 'u' },
      spec: { containers: [{ name: 'app', env: [{ name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'aws', key: 'secret' } } }, { name: 'OTHER', value: 'x' }], envFrom: [{ prefix: 'AWS_', secretRef: { name: 'keys', optional: true } }] }] },
    }, 'eks.amazonaws.com');
    assert.deepEqual(compact.spec?.containers?.[0]?.env, [{ name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'aws' } } }]);
    assert.deepEqual(compact.spec?.containers?.[0]?.envFrom, [{ prefix: 'AWS_', secretRef: { name: 'keys' } }]);
  });
});

describe('{region} in --sts-endpoint', () => {
  test('replaced by the region; no template, the SDK\'s regional endpoint', () => {
    assert.equal(stsEndpointFor('https://sts.{region}.amazonaws.com', 'eu-west-1'), 'https://sts.eu-west-1.amazonaws.com');
    assert.equal(stsEndpointFor('http://127.0.0.1:8080/{region}', 'af-south-1'), 'http://127.0.0.1:8080/af-south-1');
    assert.equal(stsEndpointFor('http://127.0.0.1:8080', 'af-south-1'), 'http://127.0.0.1:8080');
    assert.equal(stsEndpointFor(undefined, 'af-south-1'), undefined);
  });

  test('problems: another placeholder, not a URL, not http(s), a query', () => {
    assert.equal(stsEndpointProblem('https://sts.{region}.amazonaws.com'), undefined);
    assert.equal(stsEndpointProblem('https://vpce-0abc.sts.{region}.vpce.amazonaws.com'), undefined);
    assert.match(stsEndpointProblem('https://sts.{Region}.amazonaws.com') ?? '', /has \{Region\}: the only placeholder is \{region\}/);
    assert.match(stsEndpointProblem('sts.amazonaws.com') ?? '', /must be an http\(s\) URL/);
    assert.match(stsEndpointProblem('ftp://sts.amazonaws.com') ?? '', /must be an http\(s\) URL/);
    assert.match(stsEndpointProblem('https://sts.amazonaws.com/?x=1') ?? '', /query or fragment/);
  });
});

describe('STS\'s answer from an SDK error', () => {
  test('the wire Code, not the class name; the message; the status', () => {
    const err = Object.assign(new Error('Incorrect token audience'), { name: 'InvalidIdentityTokenException', Code: 'InvalidIdentityToken', $metadata: { httpStatusCode: 400 } });
    assert.deepEqual(stsFailureOf(err), { code: 'InvalidIdentityToken', message: 'Incorrect token audience', httpStatus: 400 });
  });

  test('read through a provider error that wraps it (cause)', () => {
    const inner = Object.assign(new Error('Not authorized to perform sts:AssumeRoleWithWebIdentity'), { Code: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    const wrapped = Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError', cause: inner });
    assert.deepEqual(stsFailureOf(wrapped), { code: 'AccessDenied', message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity', httpStatus: 403 });
  });

  test('no answer: no code, no status', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', $metadata: { attempts: 1 } });
    assert.deepEqual(stsFailureOf(err), { code: undefined, message: 'connect ECONNREFUSED 127.0.0.1:1', httpStatus: undefined });
  });
});

describe('the winning provider of the default chain, from the credentials\' $source', () => {
  test('each provider by its feature ids; none: instance metadata, or container metadata when configured', () => {
    assert.deepEqual(winningProvider({ CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: 'h', CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: 'k' }, {}), { name: 'web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN)', webIdentity: true });
    assert.equal(winningProvider({ CREDENTIALS_ENV_VARS: 'g' }, {}).webIdentity, false);
    assert.match(winningProvider({ CREDENTIALS_PROFILE: 'n' }, { AWS_PROFILE: 'prod' }).name, /^profile prod of the shared config files/);
    assert.match(winningProvider({ CREDENTIALS_PROFILE_STS_WEB_ID_TOKEN: 'q', CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: 'k' }, {}).name, /web identity configured in profile default/);
    assert.match(winningProvider({ CREDENTIALS_HTTP: 'z' }, {}).name, /^container credentials/);
    assert.match(winningProvider(undefined, { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials' }).name, /^container metadata/);
    assert.match(winningProvider({}, {}).name, /^instance metadata/);
  });
});

describe('envFrom sources read by key name', () => {
  test('only credential-like names are kept; a missing source sets nothing; a refused kind is not asked again for a while', async () => {
    const asked: string[] = [];
    let now = 0;
    const read = (namespace: string, kind: string, name: string) => {
      asked.push(`${namespace}/${kind}/${name}`);
      if (kind === 'Secret' && name === 'keys') return Promise.reject(new ApiException(403, 'forbidden', JSON.stringify({ message: 'secrets "keys" is forbidden' }), {}));
      if (name === 'gone') return Promise.reject(new ApiException(404, 'not found', JSON.stringify({ message: 'not found' }), {}));
      return Promise.resolve({ data: { AWS_PROFILE: 'prod', LOG_LEVEL: 'debug' }, binaryData: { SECRET_ACCESS_KEY: 'eA==' } });
    };
    const logs: string[] = [];
    const reader = new EnvSourceReader({ read, clock: { now: () => now }, logger: { info: (_: unknown, m: string) => logs.push(m) } as unknown as Logger });
    const keys = await reader.keysOf('shop', [{ kind: 'ConfigMap', name: 'cfg' }, { kind: 'ConfigMap', name: 'gone' }, { kind: 'Secret', name: 'keys' }]);
    assert.deepEqual(Object.fromEntries(keys), { 'ConfigMap/cfg': ['AWS_PROFILE', 'SECRET_ACCESS_KEY'], 'ConfigMap/gone': [], 'Secret/keys': undefined });
    assert.match(logs.join('\n'), /envFrom Secrets are not inspected for credentials: the agent may not read them/);
    assert.doesNotMatch(logs.join('\n'), /prod|debug/);
    now += 30_000;
    await reader.keysOf('shop', [{ kind: 'ConfigMap', name: 'cfg' }, { kind: 'Secret', name: 'other' }]);
    assert.deepEqual(asked, ['shop/ConfigMap/cfg', 'shop/ConfigMap/gone', 'shop/Secret/keys'], 'cached, and Secrets not asked again after a 403');
  });
});
