// Bad configuration: every flag given an invalid value is refused at start with a message naming
// it, and a broken mapping ConfigMap never replaces a working one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AGENT_FLAGS, buildAgentConfig } from '../../agent/config.ts';
import { ConfigError, parseFlags, UsageError, type FlagSpecs } from '../../shared/cli/flags.ts';
import { MappingSource } from '../../shared/identity/mapping-source.ts';
import { buildWebhookConfig, WEBHOOK_FLAGS } from '../../webhook/config.ts';
import { captureLogs } from '../support/log-capture.ts';

/** An invalid value for every flag whose kind makes one possible. */
function invalidValues(specs: FlagSpecs): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.kind === 'int') out.push([name, 'twelve']);
    else if (spec.kind === 'duration') out.push([name, 'soon']);
    else if (spec.kind === 'bool') out.push([name, 'maybe']);
    else if (spec.kind === 'string' && spec.choices) out.push([name, 'bogus']);
  }
  return out;
}

describe('every flag with an invalid value is refused with its name', () => {
  for (const [command, specs] of [['webhook', WEBHOOK_FLAGS], ['agent', AGENT_FLAGS]] as const) {
    for (const [flag, value] of invalidValues(specs)) {
      test(`${command} --${flag}=${value}`, () => {
        assert.throws(() => parseFlags(specs, [`--${flag}=${value}`]), (err: unknown) => err instanceof UsageError && err.message.includes(`--${flag}`));
      });
    }
  }

  const webhook = (args: string[]) => {
    const { values, given } = parseFlags(WEBHOOK_FLAGS, ['--kubeconfig=/k', ...args]);
    return () => buildWebhookConfig(values, given);
  };
  const semantic: Array<[string[], RegExp]> = [
    [['--tls-min-version=1.4'], /tls-min-version unsupported version 1\.4/],
    [['--tls-cipher-suites=TLS_NOPE'], /unsupported cipher suite: TLS_NOPE/],
    [['--token-mount-path=relative/path'], /--token-mount-path "relative\/path" must be an absolute path/],
    [['--container-credentials-token-mount-path=x'], /--container-credentials-token-mount-path "x" must be an absolute path/],
    [['--aws-default-region=Mars 1'], /--aws-default-region "Mars 1" is not a region name/],
    [['--annotation-prefix=has space'], /--annotation-prefix "has space" must be a DNS subdomain/],
    [['--token-audience='], /--token-audience must not be empty/],
    [['--compose-role-arn'], /--compose-role-arn needs --aws-account-id/],
    [['--port=70000'], /--port: 70000 is out of range/],
  ];
  for (const [args, message] of semantic) {
    test(`webhook ${args.join(' ')}`, () => {
      assert.throws(() => webhook(args)(), (err: unknown) => err instanceof ConfigError ? message.test(err.message) : false);
    });
  }

  const agent = (args: string[], env: NodeJS.ProcessEnv = { NODE_NAME: 'n' }) => () => buildAgentConfig(parseFlags(AGENT_FLAGS, ['--kubeconfig=/k', ...args]).values, env);
  const agentSemantic: Array<[string[], NodeJS.ProcessEnv | undefined, RegExp]> = [
    [[], {}, /the node name is unknown: pass --node-name or set NODE_NAME/],
    [['--sts-endpoint=ftp://sts'], undefined, /--sts-endpoint "ftp:\/\/sts" must be an http\(s\) URL/],
    [['--region=moon'], undefined, /--region "moon" is not an AWS region name/],
    [['--issuer-ca-file=/nonexistent/ca.pem'], undefined, /--issuer-ca-file \/nonexistent\/ca\.pem: ENOENT/],
    [['--recheck-interval=1ms'], undefined, /--recheck-interval must be at least 100ms/],
  ];
  for (const [args, env, message] of agentSemantic) {
    test(`agent ${args.join(' ') || '(no node name)'}`, () => {
      assert.throws(agent(args, env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});

describe('a broken mapping ConfigMap keeps the previous mapping', () => {
  const defaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
  const broken: Array<[string, string]> = [
    ['bad JSON', '{"ns/app": {"RoleARN": '],
    ['a key without /', '{"no-slash": {"RoleARN": "arn:aws:iam::111122223333:role/x"}}'],
    ['a null entry', '{"ns/app": null}'],
    ['wrong types', '{"ns/app": {"RoleARN": 7, "UseRegionalSTS": "yes"}}'],
  ];
  for (const [name, text] of broken) {
    test(name, () => {
      const logs = captureLogs('test');
      const events: string[] = [];
      const source = new MappingSource({ defaults, logger: logs.logger, onEvent: (e) => events.push(e) });
      source.upsert('', '{"ns/app": {"RoleARN": "arn:aws:iam::111122223333:role/good"}}');
      source.upsert('', text);
      assert.equal(source.current.lookup('ns', 'app')?.roleArn, 'arn:aws:iam::111122223333:role/good');
      assert.deepEqual(events, ['loaded', 'rejected'], 'counted');
      assert.equal(logs.find('mapping ConfigMap rejected; keeping the previous mapping').length, 1, 'logged as a warning');
    });
  }
});
