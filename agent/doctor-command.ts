// `kube-irsa doctor --token-file <f> --role-arn <arn>`: the agent's checks for one token, printed
// step by step with the reason and the fix. Exit 0 healthy, 2 misconfigured, 3 inconclusive,
// 1 bad usage.
import { readFile } from 'node:fs/promises';
import type { CoreV1Event } from '@kubernetes/client-node';
import pino from 'pino';
import { parseCommandLine, processIo, type Command, type CommandIo } from '../shared/cli/command.ts';
import type { FlagSpecs, FlagValues } from '../shared/cli/flags.ts';
import type { IdentityDefaults } from '../shared/identity/annotations.ts';
import { IdentityMapping, MAPPING_CONFIG_KEY, MAPPING_CONFIG_MAP_NAME, parseIdentityMapping } from '../shared/identity/config-map.ts';
import { ContainerCredentialsConfig } from '../shared/identity/container-credentials.ts';
import { readContainerCredentialsFile } from '../shared/identity/container-credentials-source.ts';
import { IDENTITY_FLAGS, identityDefaultsFrom } from '../shared/identity/flags.ts';
import { IdentityResolver } from '../shared/identity/resolver.ts';
import { describeKubeError, loadKubeApi, statusOf, type KubeApi } from '../shared/kube/api.ts';
import { contextNamespace } from '../shared/kube/config.ts';
import type { ServiceAccount } from '../shared/kube/objects.ts';
import { readServiceAccount, ServiceAccountCache } from '../shared/identity/service-account-cache.ts';
import { KUBE_FLAGS, kubeConfigOptions } from '../shared/kube/flags.ts';
import { readIssuerCaFiles } from './config.ts';
import { checkIdentityToken, type TokenCheckResult } from './check-token.ts';
import { Diagnoser } from './diagnosis/diagnoser.ts';
import { IamReader } from './diagnosis/iam-reader.ts';
import { diagnosisFor } from './diagnosis/explain.ts';
import { diagnosisJson } from './diagnosis/report.ts';
import { EXIT_CODES, renderReport, verdictJson } from './doctor-report.ts';
import { IrsaCheckApi } from './irsa-check-api.ts';
import { stsEndpointProblem } from './core/sts-endpoint.ts';
import { runFromEnv } from './doctor-from-env.ts';
import { IdentityProber } from './identity-prober.ts';
import { RateLimiter } from './rate-limiter.ts';
import { mintToken } from './token-source.ts';

const DOCTOR_FLAGS = {
  ...KUBE_FLAGS,
  ...IDENTITY_FLAGS,
  'token-file': { kind: 'string', default: '', metavar: 'file', help: 'the web-identity token (e.g. the pod\'s AWS_WEB_IDENTITY_TOKEN_FILE)' },
  'role-arn': { kind: 'string', default: '', help: 'the role to assume' },
  audience: { kind: 'string', default: 'sts.amazonaws.com', help: 'the audience the token must carry' },
  region: { kind: 'string', default: '', help: 'STS region (default: $AWS_REGION, else us-east-1)' },
  'sts-endpoint': { kind: 'string', default: '', help: 'STS endpoint URL overriding the regional one' },
  'issuer-ca-file': { kind: 'list', default: [], metavar: 'pem', help: 'extra CA certificates for the issuer\'s discovery and JWKS' },
  'from-env': { kind: 'bool', default: false, help: 'inside a pod (kubectl exec / kubectl debug): resolve credentials with the SDK\'s default Node.js chain as the application would, name the provider that won, then check the token file AWS_WEB_IDENTITY_TOKEN_FILE names for AWS_ROLE_ARN in AWS_REGION' },
  'iam-reads': { kind: 'bool', default: false, help: 'read IAM with your AWS credentials (the SDK\'s default chain) to name the part of the trust policy or provider at fault' },
  'iam-endpoint': { kind: 'string', default: '', help: 'IAM endpoint URL overriding the partition\'s' },
  output: { kind: 'string', default: 'text', choices: ['text', 'json'], help: 'text for people, json for tools' },
} as const satisfies FlagSpecs;

export async function runDoctor(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandLine({
    name: 'doctor', usage: 'doctor [<namespace>/]<serviceaccount> [--kubeconfig f] [--context c] | --token-file <f> --role-arn <arn> [--audience a] [--region r] [--sts-endpoint url] [--iam-reads] | --from-env [--output text|json]',
    description: 'Runs every check of the agent and prints each check, the reason and the fix.\nWith [<namespace>/]<serviceaccount> (the namespace defaults to the context\'s, as in kubectl): resolves the identity as the webhook does, mints a token (TokenRequest),\nand adds the shared IRSACheck status and the recent Events of the ServiceAccount.\nWith --from-env (inside the pod): names the provider the SDK\'s default chain picks there (CredentialsShadowed\nwhen it is not web identity) and checks the pod\'s token file (TokenUnreadable when it is missing).\n--sts-endpoint may contain {region}, replaced by the region probed.\nExit code: 0 healthy, 2 misconfigured, 3 inconclusive, 1 bad usage.',
  }, DOCTOR_FLAGS, argv, io);
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  const endpointProblem = v['sts-endpoint'] === '' ? undefined : stsEndpointProblem(v['sts-endpoint']);
  if (endpointProblem) {
    io.stderr.write(`kube-irsa doctor: ${endpointProblem}\n`);
    return 1;
  }
  if (v['from-env']) {
    const problems: string[] = [];
    const caPems = readIssuerCaFiles(v['issuer-ca-file'], problems);
    if (problems.length > 0 || parsed.positionals.length > 0 || v['token-file'] !== '' || v['role-arn'] !== '') {
      if (problems.length === 0) problems.push('--from-env reads the token file, role and region from the environment: no <namespace>/<serviceaccount>, --token-file or --role-arn');
      io.stderr.write(problems.map((p) => `kube-irsa doctor: ${p}\n`).join(''));
      return 1;
    }
    return runFromEnv({
      region: v.region, stsEndpoint: v['sts-endpoint'], audience: v.audience, output: v.output, env: process.env,
      check: (region, token, roleArn) => checkOnce({ ...v, region }, caPems, token, roleArn, v.audience),
    }, io);
  }
  const target = parsed.positionals[0];
  if (target !== undefined && parsed.positionals.length === 1 && v['token-file'] === '') return runClusterDoctor(target, v, io);
  const problems: string[] = [];
  if (v['token-file'] === '') problems.push('--token-file is required (or name a ServiceAccount as <namespace>/<name>)');
  if (v['role-arn'] === '') problems.push('--role-arn is required');
  if (parsed.positionals.length > 0) problems.push(`unexpected argument "${parsed.positionals[0] ?? ''}"`);
  let token = '';
  if (v['token-file'] !== '') {
    try {
      token = (await readFile(v['token-file'], 'utf8')).trim();
    } catch (err) {
      problems.push(`cannot read --token-file ${v['token-file']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const caPems = readIssuerCaFiles(v['issuer-ca-file'], problems);
  if (problems.length > 0) {
    io.stderr.write(problems.map((p) => `kube-irsa doctor: ${p}\n`).join(''));
    return 1;
  }
  const result = await checkOnce(v, caPems, token, v['role-arn'], v.audience);
  if (v.output === 'json') {
    io.stdout.write(`${JSON.stringify({
      reason: result.reason, verdict: result.verdict, detail: result.detail, roleArn: v['role-arn'], audience: v.audience,
      token: result.claims ? { iss: result.claims.iss, sub: result.claims.sub, aud: result.claims.aud, exp: result.claims.exp } : null,
      steps: result.steps, ...verdictJson(result),
    }, null, 2)}\n`);
  } else {
    io.stdout.write(renderReport(result, v['role-arn'], v.audience));
  }
  return EXIT_CODES[result.verdict];
}

/** The agent's checks of one token and role (checkIdentityToken) and, with --iam-reads, its diagnosis, with a prober made for this one run. */
async function checkOnce(v: Pick<DoctorValues, 'region' | 'sts-endpoint' | 'iam-reads' | 'iam-endpoint'>, caPems: readonly string[], token: string, roleArn: string, audience: string): Promise<TokenCheckResult> {
  const region = v.region || process.env.AWS_REGION || 'us-east-1';
  const stsEndpoint = v['sts-endpoint'] || undefined;
  const limiter = new RateLimiter(5);
  const prober = new IdentityProber({ nodeName: 'doctor', defaultRegion: region, stsEndpoint, issuerCaPems: caPems, limiter });
  const diagnoser = v['iam-reads']
    ? new Diagnoser({ ttlMs: 0, logger: pino({ level: 'silent' }), reader: new IamReader({ limiter, iamEndpoint: v['iam-endpoint'] || undefined, stsEndpoint, stsRegion: region }) })
    : undefined;
  try {
    const result = await checkIdentityToken({ token, roleArn, audience, region: undefined, nowSeconds: Math.floor(Date.now() / 1000), prober });
    return diagnoser ? await diagnoser.explain(result, roleArn) : result;
  } finally {
    prober.close();
    diagnoser?.close();
  }
}

/** The resolver the webhook and the agent use, fed with what doctor read: one ServiceAccount, the mapping, the associations. */
export function doctorResolver(sa: ServiceAccount, defaults: IdentityDefaults, mapping: IdentityMapping, associations: ContainerCredentialsConfig): IdentityResolver {
  const serviceAccounts = new ServiceAccountCache({ defaults, read: undefined, gracePeriodMs: 0, logger: pino({ level: 'silent' }) });
  serviceAccounts.upsert(`${sa.metadata?.namespace ?? ''}/${sa.metadata?.name ?? ''}`, serviceAccounts.parse(sa));
  return new IdentityResolver({ serviceAccounts, defaults, mapping: () => mapping, containerCredentials: () => associations });
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'Check one token and role the way the agent does, and explain the result',
  run: (argv) => runDoctor(argv),
};

type DoctorValues = FlagValues<typeof DOCTOR_FLAGS>;

/** `doctor [<namespace>/]<serviceaccount>`: the identity as the webhook resolves it, checked with a fresh token. */
async function runClusterDoctor(target: string, v: DoctorValues, io: CommandIo): Promise<number> {
  const m = /^(?:([a-z0-9-]+)\/)?([a-z0-9.-]+)$/.exec(target);
  if (!m) {
    io.stderr.write(`kube-irsa doctor: "${target}" is not [<namespace>/]<serviceaccount>\n`);
    return 1;
  }
  const problems: string[] = [];
  const defaults = identityDefaultsFrom(v, problems, []);
  const caPems = readIssuerCaFiles(v['issuer-ca-file'], problems);
  let api: KubeApi | undefined;
  try {
    api = loadKubeApi(kubeConfigOptions(v));
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length > 0 || !api) {
    io.stderr.write(problems.map((p) => `kube-irsa doctor: ${p}\n`).join(''));
    return 1;
  }
  const [, namespace = contextNamespace(api.config) ?? 'default', name = ''] = m;
  return await diagnose(api, namespace, name, v, defaults, caPems, io);
}

async function diagnose(api: KubeApi, namespace: string, name: string, v: DoctorValues, defaults: IdentityDefaults, caPems: readonly string[], io: CommandIo): Promise<number> {
  const target = `${namespace}/${name}`;
  let sa: ServiceAccount;
  try {
    sa = await readServiceAccount(api)(namespace, name);
  } catch (err) {
    io.stderr.write(`kube-irsa doctor: cannot read ServiceAccount ${target}: ${describeKubeError(err)}\n`);
    return 1;
  }
  let mapping = IdentityMapping.empty;
  if (v['watch-config-map']) {
    try {
      const cm = await api.core.readNamespacedConfigMap({ namespace: v.namespace, name: MAPPING_CONFIG_MAP_NAME });
      const parsed = parseIdentityMapping(cm.data?.[MAPPING_CONFIG_KEY], defaults);
      if (parsed.ok) mapping = parsed.mapping;
      else io.stderr.write(`Warning: the mapping ConfigMap is broken (${parsed.errors.join('; ')}); ignoring it\n`);
    } catch (err) {
      if (statusOf(err) !== 404) io.stderr.write(`Warning: cannot read the mapping ConfigMap: ${describeKubeError(err)}\n`);
    }
  }
  let associations = ContainerCredentialsConfig.empty;
  const associationsFile = v['watch-container-credentials-config'];
  if (associationsFile !== '') {
    const parsed = await readContainerCredentialsFile(associationsFile, (err) => io.stderr.write(`Warning: cannot read the container-credentials file ${associationsFile}: ${err}\n`));
    if (parsed.ok) associations = parsed.config;
    else io.stderr.write(`Warning: the container-credentials file ${associationsFile} is broken (${parsed.errors.join('; ')}); ignoring it\n`);
  }
  const { identity } = await doctorResolver(sa, defaults, mapping, associations).resolve(namespace, name);
  if (identity?.mode === 'container-credentials') {
    // the webhook injects EKS Pod Identity in preference to a role; the agent has nothing to check
    if (v.output === 'json') io.stdout.write(`${JSON.stringify({ serviceAccount: target, identity: { mode: identity.mode, source: identity.source }, verdict: 'healthy' }, null, 2)}\n`);
    else io.stdout.write(`ServiceAccount: ${target} (container credentials: an EKS Pod Identity association)\nThe webhook injects AWS_CONTAINER_CREDENTIALS_FULL_URI, not a web-identity token; the web-identity checks do not apply.\n`);
    return EXIT_CODES.healthy;
  }
  if (identity?.mode !== 'web-identity') {
    io.stderr.write(`kube-irsa doctor: ServiceAccount ${target} has no AWS role (no ${defaults.annotationPrefix}/role-arn annotation${v['watch-config-map'] ? ' and no ConfigMap entry' : ''}); nothing to check\n`);
    return 1;
  }
  let token: string | undefined;
  try {
    token = await mintToken(api, namespace, name, identity.audience);
  } catch (err) {
    io.stderr.write(`kube-irsa doctor: cannot mint a token for ${target} (TokenRequest): ${describeKubeError(err)}\n`);
    return 1;
  }
  if (!token) {
    io.stderr.write(`kube-irsa doctor: cannot mint a token for ${target} (TokenRequest): the API server returned no token\n`);
    return 1;
  }
  const checked = await checkOnce(v, caPems, token, identity.roleArn, identity.audience);
  // both are extras: without the CRD or the right to read Events the report still stands
  const shared = await new IrsaCheckApi(api).get(namespace, name).then((o) => o?.status, () => undefined);
  // without IAM access of its own, doctor shows what an agent could read (the shared diagnosis)
  const sharedDiagnosis = checked.diagnosis?.cause ? undefined : diagnosisFor(shared?.diagnosis, checked.reason, identity.roleArn);
  const result = sharedDiagnosis?.cause ? { ...checked, diagnosis: sharedDiagnosis } : checked;
  const when = (e: CoreV1Event): number => new Date(e.lastTimestamp ?? e.eventTime ?? 0).getTime();
  const events: CoreV1Event[] = await api.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=ServiceAccount,involvedObject.name=${name}` })
    .then((list) => list.items.sort((a, b) => when(b) - when(a)).slice(0, 10), () => []);
  if (v.output === 'json') {
    io.stdout.write(`${JSON.stringify({
      serviceAccount: target, identity: { roleArn: identity.roleArn, audience: identity.audience, source: identity.source },
      reason: result.reason, verdict: result.verdict, detail: result.detail, steps: result.steps, ...diagnosisJson(result.diagnosis), sharedStatus: shared ?? null,
      events: events.map((e) => ({ type: e.type, reason: e.reason, count: e.count ?? 1, message: e.message })),
    }, null, 2)}\n`);
  } else {
    const lines = [`ServiceAccount: ${target} (role from ${identity.source}${identity.sourceDetail ? ` ${identity.sourceDetail}` : ''})`, renderReport(result, identity.roleArn, identity.audience).trimEnd(), ''];
    lines.push(shared
      ? `Shared status (IRSACheck ${target}): ${shared.health ?? 'Unknown'} / ${shared.reason ?? '-'}${shared.cause ? ` (cause ${shared.cause})` : ''}, last probe ${shared.lastProbeTime ?? 'never'} from ${shared.lastProbeNode ?? '-'}`
      : `Shared status: no IRSACheck ${target} (no agent has checked it yet, or the CRD is not installed)`);
    lines.push(events.length > 0 ? 'Recent Events:' : 'Recent Events: none');
    for (const e of events) lines.push(`  ${e.type ?? ''}  ${e.reason ?? ''}  (x${e.count ?? 1})  ${e.message ?? ''}`);
    io.stdout.write(`${lines.join('\n')}\n`);
  }
  return EXIT_CODES[result.verdict];
}
