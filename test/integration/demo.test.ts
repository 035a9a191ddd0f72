// `npm run demo -- --once`, the README's main command, tells the whole story and exits cleanly;
// as root, so does `--real-node`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { realNodeUnavailable } from '../node/cluster.ts';
import { findSecrets } from '../support/log-capture.ts';

/** Runs `npm run demo -- <args>` to its end; fails unless it exits 0. */
async function runDemo(args: readonly string[]): Promise<{ out: string; err: string }> {
  const demo = path.join(import.meta.dirname, '..', 'demo', 'demo.ts');
  const child = spawn(process.execPath, [demo, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  assert.equal(code, 0, `${out}\n${err}`);
  return { out, err };
}

test('the demo shows injection, the four verdicts as Events (with their causes, and the hint of an agent without IAM access), the irsachecks table and metrics, then exits 0', async () => {
  const { out, err } = await runDemo(['--once']);
  assert.match(out, /env {3}AWS_ROLE_ARN=arn:aws:iam::111122223333:role\/orders/);
  assert.match(out, /volume aws-iam-token: projected ServiceAccount token \(audience sts\.amazonaws\.com/);
  assert.match(out, /Normal {2}Healthy .* verified: role arn:aws:iam::111122223333:role\/orders can be assumed/);
  assert.match(out, /Warning {2}TrustPolicyDenied .*"system:serviceaccount:shop:payments"/);
  // the agent that may read IAM pinpoints the cause; the one that may not says what it would need
  assert.match(out, /Warning {2}TrustPolicyDenied .*Cause: SubjectMismatch\. .*\(the namespace differs\)\. Fix: Statement\[0\] Condition\.StringEquals\."[^"]+:sub": "system:serviceaccount:shop-prod:payments" → "system:serviceaccount:shop:payments"/);
  assert.match(out, /kubectl describe pod -n shop payments-1.*\n.*\n {2}Warning {2}TrustPolicyDenied .*Fix: the trust policy of role payments must allow [^\n]*\n {20,}Cause not pinpointed: IAM refused the agent's read \(AccessDenied\); allowing iam:GetRole on arn:aws:iam::111122223333:role\/payments would pinpoint it/);
  assert.match(out, /Warning {2}IncorrectAudience .*Cause: ClientIdMissing\. .*Fix: add client ID "search\.example\.com" to OIDC provider/);
  assert.match(out, /Warning {2}PodNotMutated /);
  assert.match(out, /shop {7}payments +payments +arn:aws:iam::111122223333:role\/payments +Misconfigured +TrustPolicyDenied +SubjectMismatch/);
  assert.match(out, /kube_irsa_agent_pods_not_mutated 1/);
  assert.deepEqual(findSecrets(out + err), []);
  assert.doesNotMatch(err, /Deprecation|Warning/);
});

test('npm run demo -- --real-node --once: the chart on a real node, the application printing its assumed role, the four verdicts', { skip: realNodeUnavailable(), timeout: 30 * 60_000 }, async () => {
  const { out, err } = await runDemo(['--real-node', '--once']);
  assert.match(out, /\$ kubectl exec -n shop orders -- node \/app\/app\.ts --once\n {2}\{"arn":"arn:aws:sts::111122223333:assumed-role\/orders\//);
  assert.match(out, /AWS_ROLE_ARN=arn:aws:iam::111122223333:role\/orders/);
  assert.match(out, /Pod +legacy +Warning +PodNotMutated/);
  assert.match(out, /Pod +search +Warning +IncorrectAudience/);
  assert.match(out, /shop +payments +payments +arn:aws:iam::111122223333:role\/payments +Misconfigured +TrustPolicyDenied/);
  assert.deepEqual(findSecrets(out + err), []);
});
