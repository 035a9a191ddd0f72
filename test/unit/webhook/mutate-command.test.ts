import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import fastJsonPatch from 'fast-json-patch';
import { applyAddPatch } from '../../../webhook/core/apply-patch.ts';
import type { JsonPatchOperation } from '../../../webhook/core/patch.ts';
import { runMutate } from '../../../webhook/mutate-command.ts';
import { captureIo } from '../../support/io-capture.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kube-irsa-mutate-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const ROLE = 'arn:aws:iam::111122223333:role/web';
const POD = file('pod.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: team}\nspec:\n  serviceAccountName: app\n  containers: [{name: app, image: nginx}]\n');
const SA = file('sa.yaml', `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: team\n  annotations:\n    eks.amazonaws.com/role-arn: ${ROLE}\n`);

async function mutate(...argv: string[]) {
  const io = captureIo();
  const code = await runMutate(argv, io);
  return { code, out: io.out(), err: io.err() };
}

describe('kube-irsa mutate', () => {
  test('prints the JSON Patch for a pod of an annotated ServiceAccount', async () => {
    const r = await mutate('--pod', POD, '--service-account', SA, '--aws-default-region', 'eu-west-1');
    assert.equal(r.code, 0, r.err);
    const patch = JSON.parse(r.out) as JsonPatchOperation[];
    assert.ok(patch.some((op) => op.path === '/spec/containers/0/env' && JSON.stringify(op.value).includes(ROLE)));
  });
  test('--output pod prints the mutated pod', async () => {
    const r = await mutate('--pod', POD, '--service-account', SA, '--output', 'pod');
    const pod = JSON.parse(r.out) as { spec: { containers: Array<{ env: Array<{ name: string; value: string }> }> } };
    assert.equal(pod.spec.containers[0]!.env.find((e) => e.name === 'AWS_ROLE_ARN')?.value, ROLE);
  });
  test('webhook flags apply (--annotation-prefix, --token-mount-path)', async () => {
    const sa = file('sa-prefix.yaml', `kind: ServiceAccount\nmetadata: {name: app, namespace: team, annotations: {irsa.example.com/role-arn: "${ROLE}"}}\n`);
    const r = await mutate('--pod', POD, '--service-account', sa, '--annotation-prefix=irsa.example.com', '--token-mount-path=/aws', '--output=pod');
    assert.match(r.out, /"value": "\/aws\/token"/);
  });
  test('the ConfigMap maps a ServiceAccount without annotations', async () => {
    const cm = file('cm.yaml', `kind: ConfigMap\nmetadata: {name: pod-identity-webhook}\ndata:\n  config: '{"team/app": {"RoleARN": "${ROLE}"}}'\n`);
    const r = await mutate('--pod', POD, '--config-map', cm, '--output', 'pod');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(ROLE));
  });
  test('container-credentials mode from its file', async () => {
    const cc = file('cc.json', '{"identities":[{"namespace":"team","serviceAccount":"app"}]}');
    const r = await mutate('--pod', POD, '--container-credentials-config', cc, '--output', 'pod');
    assert.match(r.out, /AWS_CONTAINER_CREDENTIALS_FULL_URI/);
  });
  test('several pods and a List of ServiceAccounts', async () => {
    const pods = file('pods.yaml', `${'kind: Pod\nmetadata: {name: a, namespace: team}\nspec: {serviceAccountName: app, containers: [{name: c}]}\n'}---\nkind: Pod\nmetadata: {name: b, namespace: team}\nspec: {serviceAccountName: app, containers: [{name: c}]}\n`);
    const list = file('list.yaml', `kind: List\nitems:\n- kind: ServiceAccount\n  metadata: {name: app, namespace: team, annotations: {eks.amazonaws.com/role-arn: "${ROLE}"}}\n`);
    const r = await mutate('--pod', pods, '--service-account', list);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim().split(/\n(?=\[)/).length, 2, 'one patch per pod');
  });
  test('admission warnings go to stderr', async () => {
    const sa = file('sa-bad.yaml', 'kind: ServiceAccount\nmetadata: {name: app, namespace: team, annotations: {eks.amazonaws.com/role-arn: "arn:aws:iam::1:role/x"}}\n');
    const r = await mutate('--pod', POD, '--service-account', sa);
    assert.equal(r.code, 0);
    assert.match(r.err, /^Warning: .*is not a well-formed IAM role ARN/m);
  });
  test('a pod without identity prints an empty patch and says why', async () => {
    const r = await mutate('--pod', POD);
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out), []);
    assert.match(r.err, /has no AWS identity .*no --service-account file was given/);
  });
  const bad: Array<[string, string[], RegExp]> = [
    ['a missing --pod', [], /--pod is required/],
    ['an unreadable file', ['--pod', path.join(dir, 'nope.yaml')], /cannot read pod file .*nope\.yaml/],
    ['malformed YAML', ['--pod', file('broken.yaml', 'kind: Pod\nmetadata: [\n')], /document 1 is not valid YAML or JSON/],
    ['a non-Pod', ['--pod', SA], /object 1 is a "ServiceAccount", expected a Pod/],
    ['a broken ConfigMap', ['--pod', POD, '--config-map', file('bad-cm.yaml', 'kind: ConfigMap\ndata: {config: "{\\"x\\": 1}"}\n')], /key "x" must be "namespace\/serviceAccount"/],
    ['an invalid webhook flag', ['--pod', POD, '--tls-min-version=2.0'], /unsupported version 2\.0/],
    ['an unknown flag', ['--pod', POD, '--frobnicate'], /unknown flag: --frobnicate/],
  ];
  for (const [name, argv, message] of bad) {
    test(`${name}: a clear message and exit code 1`, async () => {
      const r = await mutate(...argv);
      assert.equal(r.code, 1);
      assert.match(r.err, message);
    });
  }
  test('reads the pod from standard input through the CLI', () => {
    const cli = path.join(import.meta.dirname, '..', '..', '..', 'bin', 'kube-irsa');
    const r = spawnSync(cli, ['mutate', '--pod', '-', '--service-account', SA], { input: '{"kind":"Pod","metadata":{"name":"x","namespace":"team"},"spec":{"serviceAccountName":"app","containers":[{"name":"c"}]}}', encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(ROLE));
  });
});

describe('applyAddPatch', () => {
  test('agrees with an RFC 6902 implementation on add operations', () => {
    const doc = { a: { b: [1, 2] }, c: {} };
    const patch: JsonPatchOperation[] = [
      { op: 'add', path: '/a/b/-', value: 3 }, { op: 'add', path: '/a/b/0', value: 0 }, { op: 'add', path: '/c/x~1y', value: { z: 1 } }, { op: 'add', path: '/d', value: [] },
    ];
    const ours = applyAddPatch(doc, patch);
    const theirs = fastJsonPatch.applyPatch(structuredClone(doc), structuredClone(patch), true, false).newDocument;
    assert.deepEqual(ours, theirs);
    assert.deepEqual(doc, { a: { b: [1, 2] }, c: {} }, 'the input is untouched');
  });
  test('refuses a path through a missing parent', () => {
    assert.throws(() => applyAddPatch({}, [{ op: 'add', path: '/a/b', value: 1 }]), /"a" does not exist/);
  });
});
