// The webhook, the agent and `doctor` must give every pod the same identity in the same mode: they
// all ask the one IdentityResolver. Each row is one situation; for each, the webhook admits the pod
// (its own admit path, patch applied), the agent checks the pod the webhook produced (its own pod
// check, with a fake token source and STS), and doctor resolves the pod's ServiceAccount (its own
// resolver assembly). A pod the webhook injects must never be PodNotMutated or StaleRole to the agent.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import type { TokenCheckResult } from '../../agent/check-token.ts';
import { checkPodIdentity } from '../../agent/checks/pod-check.ts';
import { REASONS } from '../../agent/core/reasons.ts';
import { doctorResolver } from '../../agent/doctor-command.ts';
import { compactPod } from '../../agent/watch/pods.ts';
import type { IdentityDefaults } from '../../shared/identity/annotations.ts';
import { IdentityMapping, parseIdentityMapping } from '../../shared/identity/config-map.ts';
import { ContainerCredentialsConfig } from '../../shared/identity/container-credentials.ts';
import { SKIP_LABEL } from '../../shared/identity/injection.ts';
import type { ResolvedIdentity } from '../../shared/identity/resolve.ts';
import { IdentityResolver, type Resolution } from '../../shared/identity/resolver.ts';
import { ServiceAccountCache } from '../../shared/identity/service-account-cache.ts';
import type { Pod, ServiceAccount } from '../../shared/kube/objects.ts';
import { admit } from '../../webhook/admission/handler.ts';
import { applyAddPatch } from '../../webhook/core/apply-patch.ts';
import type { MutationSettings } from '../../webhook/core/patch.ts';

const logger = pino({ level: 'silent' });
const role = (n: string) => `arn:aws:iam::111122223333:role/${n}`;
const baseDefaults: IdentityDefaults = { annotationPrefix: 'eks.amazonaws.com', audience: 'sts.amazonaws.com', stsRegionalEndpoints: false, tokenExpirationSeconds: 86_400, injectRoleSessionName: false };
const settings: MutationSettings = {
  annotationPrefix: 'eks.amazonaws.com', region: 'eu-west-1', random: () => 0,
  webIdentity: { volumeName: 'aws-iam-token', tokenPath: 'token', mountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount' },
  containerCredentials: { volumeName: 'eks-pod-identity-token', tokenPath: 'eks-pod-identity-token', mountPath: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount', audience: 'pods.eks.amazonaws.com', fullUri: 'http://169.254.170.23/v1/credentials' },
};
const NOW = Date.UTC(2026, 10, 30);

interface Row {
  readonly name: string;
  readonly namespace?: string;
  /** The pod's serviceAccountName ('' = unset). */
  readonly serviceAccount?: string;
  readonly saAnnotations?: Record<string, string>;
  readonly mapping?: Record<string, unknown>;
  readonly associations?: readonly string[];
  readonly pod?: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Record<string, unknown> };
  readonly defaults?: Partial<IdentityDefaults>;
  readonly expect: { readonly mode: ResolvedIdentity['mode'] | undefined; readonly roleArn?: string; readonly audience?: string; readonly source?: ResolvedIdentity['source'] };
}

const ROWS: readonly Row[] = [
  { name: 'role annotation', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a') }, expect: { mode: 'web-identity', roleArn: role('a'), audience: 'sts.amazonaws.com', source: 'service-account' } },
  { name: 'role annotation with a custom audience', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a'), 'eks.amazonaws.com/audience': 'custom' }, expect: { mode: 'web-identity', roleArn: role('a'), audience: 'custom' } },
  { name: 'role annotation with an empty audience: the default one', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a'), 'eks.amazonaws.com/audience': '' }, expect: { mode: 'web-identity', audience: 'sts.amazonaws.com' } },
  { name: 'role annotation with a custom expiration', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a'), 'eks.amazonaws.com/token-expiration': '3600' }, expect: { mode: 'web-identity', roleArn: role('a') } },
  { name: 'role annotation with regional STS', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a'), 'eks.amazonaws.com/sts-regional-endpoints': 'true' }, expect: { mode: 'web-identity', roleArn: role('a') } },
  { name: 'a pod annotation overriding the expiration', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a') }, pod: { annotations: { 'eks.amazonaws.com/token-expiration': '7200' } }, expect: { mode: 'web-identity', roleArn: role('a') } },
  { name: 'a malformed role ARN (warned, still injected)', saAnnotations: { 'eks.amazonaws.com/role-arn': 'not-an-arn' }, expect: { mode: 'web-identity', roleArn: 'not-an-arn' } },
  { name: 'ConfigMap: exact ns/name', mapping: { 'ns/app': { RoleARN: role('cm') } }, expect: { mode: 'web-identity', roleArn: role('cm'), source: 'config-map' } },
  { name: 'ConfigMap: a namespace glob', namespace: 'team-blue', mapping: { 'team-*/app': { RoleARN: role('glob') } }, expect: { mode: 'web-identity', roleArn: role('glob'), source: 'config-map' } },
  { name: 'ConfigMap: */name', namespace: 'anywhere', mapping: { '*/app': { RoleARN: role('any') } }, expect: { mode: 'web-identity', roleArn: role('any') } },
  { name: 'ConfigMap: a glob that does not match', namespace: 'prod', mapping: { 'team-*/app': { RoleARN: role('glob') } }, expect: { mode: undefined } },
  { name: 'ConfigMap with its own audience', mapping: { 'ns/app': { RoleARN: role('cm'), Audience: 'cm-aud' } }, expect: { mode: 'web-identity', audience: 'cm-aud' } },
  { name: 'the role annotation wins over the ConfigMap', saAnnotations: { 'eks.amazonaws.com/role-arn': role('sa') }, mapping: { 'ns/app': { RoleARN: role('cm') } }, expect: { mode: 'web-identity', roleArn: role('sa'), source: 'service-account' } },
  { name: 'container credentials only', associations: ['ns/app'], expect: { mode: 'container-credentials' } },
  { name: 'role annotation AND container credentials (IRSA → Pod Identity migration)', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a') }, associations: ['ns/app'], expect: { mode: 'container-credentials' } },
  { name: 'ConfigMap AND container credentials', mapping: { 'ns/app': { RoleARN: role('cm') } }, associations: ['ns/app'], expect: { mode: 'container-credentials' } },
  { name: 'an association for another ServiceAccount', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a') }, associations: ['ns/other'], expect: { mode: 'web-identity', roleArn: role('a') } },
  { name: 'neither a role nor an association', expect: { mode: undefined } },
  { name: 'a role in another namespace only', namespace: 'elsewhere', mapping: { 'ns/app': { RoleARN: role('cm') } }, expect: { mode: undefined } },
  { name: 'the skip label', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a') }, pod: { labels: { [SKIP_LABEL]: 'true' } }, expect: { mode: undefined } },
  { name: 'Windows (nodeSelector)', saAnnotations: { 'eks.amazonaws.com/role-arn': role('win') }, pod: { spec: { nodeSelector: { 'kubernetes.io/os': 'windows' } } }, expect: { mode: 'web-identity', roleArn: role('win') } },
  { name: 'Windows (spec.os) with container credentials', associations: ['ns/app'], pod: { spec: { os: { name: 'windows' } } }, expect: { mode: 'container-credentials' } },
  { name: 'no serviceAccountName: the default ServiceAccount', serviceAccount: '', saAnnotations: { 'eks.amazonaws.com/role-arn': role('default') }, expect: { mode: 'web-identity', roleArn: role('default') } },
  { name: 'role session name injection', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a') }, defaults: { injectRoleSessionName: true }, expect: { mode: 'web-identity', roleArn: role('a') } },
  { name: 'a custom default audience flag', saAnnotations: { 'eks.amazonaws.com/role-arn': role('a') }, defaults: { audience: 'flag-aud' }, expect: { mode: 'web-identity', audience: 'flag-aud' } },
];

function setUp(row: Row) {
  const namespace = row.namespace ?? 'ns';
  const saName = row.serviceAccount === '' ? 'default' : (row.serviceAccount ?? 'app');
  const defaults = { ...baseDefaults, ...row.defaults };
  const sa: ServiceAccount = { metadata: { namespace, name: saName, annotations: row.saAnnotations ?? {} } };
  const parsed = row.mapping ? parseIdentityMapping(JSON.stringify(row.mapping), defaults) : undefined;
  if (parsed && !parsed.ok) throw new Error(parsed.errors.join('; '));
  const mapping = parsed?.mapping ?? IdentityMapping.empty;
  const associations = new ContainerCredentialsConfig(new Set(row.associations ?? []));
  // the webhook's and the agent's resolver: a ServiceAccount cache (fed by a watch in both), the mapping, the associations
  const cache = new ServiceAccountCache({ defaults, read: undefined, gracePeriodMs: 0, logger });
  cache.upsert(`${namespace}/${saName}`, cache.parse(sa));
  const resolver = new IdentityResolver({ serviceAccounts: cache, defaults, mapping: () => mapping, containerCredentials: () => associations });
  const pod: Pod = {
    metadata: { name: 'p', namespace, uid: 'uid-1', labels: row.pod?.labels ?? {}, annotations: row.pod?.annotations ?? {} },
    spec: { ...(row.serviceAccount === '' ? {} : { serviceAccountName: saName }), containers: [{ name: 'app' }], ...row.pod?.spec },
  };
  return { namespace, saName, defaults, sa, mapping, associations, resolver, pod };
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const tokenFor = (audience: string) => `${b64({ alg: 'RS256', kid: 'k' })}.${b64({ iss: 'https://issuer.example', sub: 'system:serviceaccount:ns:app', aud: audience, exp: NOW / 1000 + 3600 })}.c2ln`;
const healthy: TokenCheckResult = { reason: 'Healthy', verdict: 'healthy', detail: '', steps: [], claims: undefined, stsAnswered: true };

describe('webhook, agent and doctor resolve the same identity and mode', () => {
  test(`the table has at least 20 rows (${ROWS.length})`, () => assert.ok(ROWS.length >= 20));
  for (const row of ROWS) {
    test(row.name, async () => {
      const s = setUp(row);
      // the webhook
      const admitted = await admit({ uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: s.namespace, object: s.pod }, { resolver: s.resolver, settings });
      const webhook = admitted.identity;
      assert.equal(webhook?.mode, row.expect.mode, 'webhook mode');
      if (row.expect.roleArn) assert.equal(webhook?.mode === 'web-identity' && webhook.roleArn, row.expect.roleArn);
      if (row.expect.audience) assert.equal(webhook?.mode === 'web-identity' && webhook.audience, row.expect.audience);
      if (row.expect.source) assert.equal(webhook?.source, row.expect.source);
      assert.equal(admitted.outcome, row.expect.mode ? 'mutated' : 'no-identity');
      assert.ok(admitted.verdict.allowed);
      const running = applyAddPatch(s.pod, admitted.verdict.patch);

      // the agent, on the pod the webhook produced
      const resolutions: Resolution[] = [];
      const decision = await checkPodIdentity(compactPod(running, 'eks.amazonaws.com'), NOW - 600_000, {
        resolver: s.resolver, clock: { now: () => NOW }, policy: { tokenWaitMs: 60_000, retryIntervalMs: 10_000, recheckIntervalMs: 900_000 },
        tokens: { read: (_pod, _location, audience) => Promise.resolve({ ok: true, token: tokenFor(audience) }) },
        health: () => Promise.resolve({ result: healthy, nextCheckAt: NOW + 900_000, ran: true }),
        onResolved: (r) => resolutions.push(r),
      });
      assert.deepEqual(resolutions[0]?.identity, webhook, 'agent identity');
      if (row.expect.mode === 'web-identity') {
        assert.ok(decision.kind === 'report', `agent: ${decision.kind}`);
        assert.equal(decision.verdict.reason, 'Healthy', `agent: ${decision.verdict.reason} ${decision.verdict.detail}`);
      } else {
        assert.deepEqual(decision, { kind: 'forget' }, 'the agent has nothing to report');
      }
      assert.ok(decision.kind !== 'report' || REASONS[decision.verdict.reason].verdict !== 'misconfigured');

      // doctor, for the pod's ServiceAccount (a pod's skip label is the pod's, not the ServiceAccount's)
      const doctor = await doctorResolver(s.sa, s.defaults, s.mapping, s.associations).resolve(s.namespace, s.saName);
      const podOptedOut = row.pod?.labels?.[SKIP_LABEL] !== undefined;
      assert.deepEqual(doctor.identity, podOptedOut ? s.resolver.resolveCached(s.namespace, s.saName) : webhook, 'doctor identity');
    });
  }
});
