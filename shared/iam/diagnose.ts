// Why STS refuses a web identity for a role, from what IAM says (the role's trust policy, the OIDC
// providers of its account) and the token's claims: a stable cause, the statement and condition at
// fault, and the smallest correction. Pure: no I/O. It replays STS's order (provider, audience,
// role, trust policy), and for the policy it applies one fix at a time and evaluates again with the
// same evaluator the STS emulator enforces, until the policy allows, so combined mistakes come out
// as several findings and the corrected policy is known to pass. Only claims (iss, sub, aud, amr)
// are ever quoted, never the token.
import { oidcProviderArn, parseRoleArn, providerUrlOf } from './arn.ts';
import { evaluateTrustPolicy, matchesPattern, parseTrustPolicy, PolicyError, type ConditionTrace, type StatementTrace } from './trust-policy.ts';

export const WEB_IDENTITY_ACTION = 'sts:AssumeRoleWithWebIdentity';

/** Stable names: they appear in Events, the IRSACheck status and `doctor`; never renamed once released. */
export const CAUSES = {
  SubjectMismatch: { meaning: 'A condition on <provider>:sub does not match the ServiceAccount\'s subject: another namespace, name, or both (the nearest allowed sub is named).', fix: 'Set the value to system:serviceaccount:<namespace>:<name> of the pod\'s ServiceAccount (a StringLike pattern keeps its wildcards).' },
  AudienceConditionMismatch: { meaning: 'A condition on <provider>:aud does not match the token\'s audience.', fix: 'Set the value to the audience the token carries (sts.amazonaws.com by default).' },
  WildcardNeedsStringLike: { meaning: 'StringEquals compares * and ? literally, so a pattern never matches.', fix: 'Use StringLike for that key.' },
  FederatedPrincipalMismatch: { meaning: 'Principal.Federated names another OIDC provider, account, partition or issuer host, the issuer URL instead of the provider ARN, or has an https:// prefix or a trailing slash.', fix: 'Use arn:<partition>:iam::<role account>:oidc-provider/<issuer without https://>.' },
  ActionNotAllowed: { meaning: 'The statement does not allow sts:AssumeRoleWithWebIdentity (e.g. sts:AssumeRole, or a NotAction that excludes it).', fix: 'Set Action to sts:AssumeRoleWithWebIdentity.' },
  ExplicitDeny: { meaning: 'A Deny statement (named) applies to this token; a Deny wins over every Allow.', fix: 'Remove the Deny statement or narrow its conditions so it no longer matches this ServiceAccount.' },
  ConditionKeyTypo: { meaning: 'A condition key is neither <provider>:sub, <provider>:aud nor <provider>:amr (the issuer host spelled differently, https:// in the key, a stray space), so the request has no such key.', fix: 'Rename the key to <issuer without https://>:sub (or :aud).' },
  ConditionMismatch: { meaning: 'Another condition (amr, a global key such as sts:RoleSessionName, a Null test) is false for this request; ServiceAccount tokens have no amr.', fix: 'Use the IfExists form for a key the token lacks, or fix the value.' },
  NoAllowStatement: { meaning: 'The trust policy has no Allow statement, so every web identity is refused.', fix: 'Add the Allow statement for the provider with sub and aud conditions.' },
  RoleNotFound: { meaning: 'GetRole says NoSuchEntity: the role does not exist (STS hides this behind AccessDenied).', fix: 'Create the role, or fix the role name in the eks.amazonaws.com/role-arn annotation.' },
  ProviderMissingInAccount: { meaning: 'The role\'s account has no IAM OIDC provider whose URL equals the token\'s issuer (IAM matches exactly, case and trailing slash included).', fix: 'Create the IAM OIDC provider for the issuer, with client ID sts.amazonaws.com, in the role\'s account.' },
  ClientIdMissing: { meaning: 'The account\'s OIDC provider does not list the token\'s audience among its client IDs.', fix: 'Add the audience (sts.amazonaws.com) to the provider\'s client IDs.' },
  PolicyNotUnderstood: { meaning: 'The trust policy uses something this evaluator does not support (e.g. a Numeric or Date operator), so no cause can be named.', fix: 'Compare the policy with the minimal one by hand; the verdict is unchanged.' },
} as const satisfies Record<string, { readonly meaning: string; readonly fix: string }>;
export type Cause = keyof typeof CAUSES;

export interface ProviderFacts {
  /** The issuer without `https://`, as IAM stores it. */
  readonly url: string;
  readonly clientIds: readonly string[];
}

export interface TokenFacts {
  readonly iss: string;
  readonly sub: string;
  readonly aud: readonly string[];
  readonly amr?: readonly string[];
}

export interface DiagnosisInput {
  readonly roleArn: string;
  /** The role's trust policy as IAM returns it (decoded JSON text or an object); undefined when GetRole said NoSuchEntity. */
  readonly trustPolicy: unknown;
  /** The OIDC providers of the role's account (ListOpenIDConnectProviders + GetOpenIDConnectProvider). */
  readonly providers: readonly ProviderFacts[];
  readonly token: TokenFacts;
  readonly roleSessionName?: string;
}

export type SubjectPart = 'namespace' | 'name' | 'both' | 'other';

export interface Finding {
  readonly cause: Cause;
  /** The statement at fault, e.g. `Statement[1] (Sid "DenyShop")`. */
  readonly statement?: { readonly index: number; readonly sid: string | undefined };
  /** The failing condition: key, operator, the policy's values and the request's. */
  readonly condition?: { readonly operator: string; readonly key: string; readonly policyValues: readonly string[]; readonly requestValues: readonly string[] | undefined };
  /** For SubjectMismatch: the allowed `sub` nearest the token's, and what differs. */
  readonly subject?: { readonly nearest: string; readonly differs: SubjectPart };
  /** One sentence: what is wrong. */
  readonly message: string;
  /** The one changed line or fragment, short enough for an Event. */
  readonly change: string;
}

export interface Diagnosis {
  /** The first finding's cause; undefined when STS would accept the token as things are. */
  readonly cause: Cause | undefined;
  readonly findings: readonly Finding[];
  /** The whole corrected trust policy, when the policy (or a missing role) needs one. */
  readonly correctedTrustPolicy: Record<string, unknown> | undefined;
  /** The provider to create or update, when the provider side needs a fix. */
  readonly correctedProvider: ProviderFacts | undefined;
  /** Whether the corrections make the evaluator allow the token. */
  readonly resolved: boolean;
}

const EVENT_CHANGE_LIMIT = 300;
const MAX_FIXES = 12;
const SA_PREFIX = 'system:serviceaccount:';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const clip = (s: string): string => (s.length <= EVENT_CHANGE_LIMIT ? s : `${s.slice(0, EVENT_CHANGE_LIMIT - 1)}…`);
const q = JSON.stringify;
const statementName = (index: number, sid: string | undefined): string => `Statement[${index}]${sid === undefined ? '' : ` (Sid ${q(sid)})`}`;

/** The trust policy a web identity needs: the provider, the action, sub and aud with StringEquals. */
export function minimalTrustPolicy(providerArn: string, providerUrl: string, sub: string, aud: string): Json {
  return { Version: '2012-10-17', Statement: [minimalStatement(providerArn, providerUrl, sub, aud)] };
}

function minimalStatement(providerArn: string, providerUrl: string, sub: string, aud: string): Json {
  return {
    Effect: 'Allow', Principal: { Federated: providerArn }, Action: WEB_IDENTITY_ACTION,
    Condition: { StringEquals: { [`${providerUrl}:sub`]: sub, [`${providerUrl}:aud`]: aud } },
  };
}

// edit distance, to name the allowed value nearest the token's (a few short strings per diagnosis)
function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length] ?? 0;
}

const nearest = (values: readonly string[], target: string): string =>
  values.reduce((best, v) => (levenshtein(v, target) < levenshtein(best, target) ? v : best), values[0] ?? '');

function subjectParts(sub: string): { namespace: string; name: string } | undefined {
  if (!sub.startsWith(SA_PREFIX)) return undefined;
  const [namespace, name, ...rest] = sub.slice(SA_PREFIX.length).split(':');
  return namespace !== undefined && name !== undefined && rest.length === 0 ? { namespace, name } : undefined;
}

function subjectDiffers(policyValue: string, sub: string, like: boolean): SubjectPart {
  const p = subjectParts(policyValue);
  const t = subjectParts(sub);
  if (!p || !t) return 'other';
  const same = (a: string, b: string): boolean => (like ? matchesPattern(a, b) : a === b);
  const ns = !same(p.namespace, t.namespace);
  const name = !same(p.name, t.name);
  return ns && name ? 'both' : ns ? 'namespace' : name ? 'name' : 'other';
}

/** The policy's sub value made to match: keeps a segment's wildcard where it already matches. */
function correctedSubject(policyValue: string, sub: string, like: boolean): string {
  const p = subjectParts(policyValue);
  const t = subjectParts(sub);
  if (!like || !p || !t) return sub;
  const keep = (a: string, b: string): string => (matchesPattern(a, b) ? a : b);
  return `${SA_PREFIX}${keep(p.namespace, t.namespace)}:${keep(p.name, t.name)}`;
}

/** What differs between the provider ARN a statement names and the one STS resolved. */
function principalDifference(named: string, expected: { arn: string; partition: string; account: string; url: string }): string {
  const m = /^arn:([\w-]+):iam::(\d{12}):oidc-provider\/(.+)$/.exec(named);
  if (!m) {
    if (/^https?:\/\//.test(named) || named === expected.url) return `it names the issuer ${q(named)}, not the provider ARN`;
    return `it names ${q(named)}, not an OIDC provider ARN`;
  }
  const [, partition = '', account = '', url = ''] = m;
  const parts: string[] = [];
  if (partition !== expected.partition) parts.push(`partition ${partition} instead of ${expected.partition}`);
  if (account !== expected.account) parts.push(`account ${account} instead of ${expected.account}`);
  if (url !== expected.url) {
    if (url.startsWith('https://') && providerUrlOf(url) === expected.url) parts.push('the provider part starts with https://');
    else if (url.replace(/\/+$/, '') === expected.url) parts.push('the provider part ends with a slash');
    else parts.push(`provider ${url} instead of ${expected.url}`);
  }
  return parts.join(', ');
}

/** Raw statements of the document being corrected, so fixes keep Sid, Resource and everything else. */
function rawStatements(doc: Json): Json[] {
  if (Array.isArray(doc.Statement)) return doc.Statement as Json[];
  if (isObject(doc.Statement)) return [doc.Statement];
  return [];
}

function setValues(block: Json, key: string, values: readonly string[]): void {
  block[key] = values.length === 1 ? values[0] : [...values];
}

/** Deletes a condition key; an emptied operator block and an emptied Condition go too. */
function deleteConditionKey(statement: Json, operator: string, key: string): void {
  const condition = statement.Condition as Json;
  const block = condition[operator] as Json;
  delete block[key];
  if (Object.keys(block).length === 0) delete condition[operator];
  if (Object.keys(condition).length === 0) delete statement.Condition;
}

/** Moves a condition key to another operator (merging values when the operator already has it). */
function moveConditionKey(statement: Json, operator: string, key: string, toOperator: string, toKey: string, values: readonly string[]): void {
  deleteConditionKey(statement, operator, key);
  const condition = (statement.Condition ??= {}) as Json;
  const block = (condition[toOperator] ??= {}) as Json;
  const existing = block[toKey] === undefined ? [] : ([] as unknown[]).concat(block[toKey]).map(String);
  setValues(block, toKey, [...new Set([...existing, ...values])]);
}

interface Context {
  readonly providerArn: string;
  readonly providerUrl: string;
  readonly partition: string;
  readonly account: string;
  readonly sub: string;
  readonly aud: string;
  readonly request: Readonly<Record<string, readonly string[]>>;
}

/** The claim a condition key is about, when it is one of the provider's keys or a misspelling of one. */
function claimOfKey(key: string, ctx: Context): 'sub' | 'aud' | 'amr' | 'global' | undefined {
  const lower = key.toLowerCase();
  if (lower === `${ctx.providerUrl.toLowerCase()}:sub`) return 'sub';
  if (lower === `${ctx.providerUrl.toLowerCase()}:aud`) return 'aud';
  if (lower === `${ctx.providerUrl.toLowerCase()}:amr`) return 'amr';
  if (/^(aws|sts):[\w/-]+$/i.test(key)) return 'global';
  return undefined;
}

/** The claim a misspelt key means: by its suffix (`sub `, `subject`, `aud1`), else by its values. */
function guessClaim(key: string, values: readonly string[]): 'sub' | 'aud' | 'amr' | undefined {
  const suffix = key.slice(key.lastIndexOf(':') + 1).trim().toLowerCase();
  const byName = (['sub', 'aud', 'amr'] as const).find((claim) => suffix.startsWith(claim) || levenshtein(suffix, claim) <= 1);
  if (byName) return byName;
  if (values.some((v) => v.startsWith(SA_PREFIX))) return 'sub';
  if (values.some((v) => /amazonaws\.com/.test(v))) return 'aud';
  return undefined;
}

const isNegated = (operator: string): boolean => /(?:String|Arn)Not/.test(operator);
const isLike = (operator: string): boolean => /StringLike|StringNotLike/.test(operator);
const isLiteralEquals = (operator: string): boolean => /^(?:(?:ForAnyValue|ForAllValues):)?StringEquals(?:IfExists)?$/.test(operator);

interface Fix {
  readonly finding: Finding;
  /** Applies the fix to the document under correction; false when there is nothing it can change. */
  readonly apply: (doc: Json) => boolean;
}

/** The fix for one failing condition of an Allow statement. */
function conditionFix(trace: StatementTrace, c: ConditionTrace, ctx: Context): Fix {
  const statement = { index: trace.index, sid: trace.sid };
  const condition = { operator: c.operator, key: c.key, policyValues: c.policyValues, requestValues: c.requestValues };
  const at = `${statementName(trace.index, trace.sid)} Condition.${c.operator}.${q(c.key)}`;
  const rawOf = (doc: Json): Json | undefined => rawStatements(doc)[trace.index];
  const claim = claimOfKey(c.key, ctx);

  if (claim === undefined) {
    const guessed = guessClaim(c.key, c.policyValues);
    const correctKey = guessed && `${ctx.providerUrl}:${guessed}`;
    return {
      finding: {
        cause: 'ConditionKeyTypo', statement, condition,
        message: `${at}: the request has no key ${q(c.key)}; the provider's keys are ${ctx.providerUrl}:sub, :aud and :amr.`,
        change: clip(correctKey ? `${statementName(trace.index, trace.sid)} Condition.${c.operator}: key ${q(c.key)} → ${q(correctKey)}` : `${at}: use ${ctx.providerUrl}:sub or :aud`),
      },
      apply: (doc) => {
        const raw = rawOf(doc);
        if (!raw || !correctKey) return false;
        moveConditionKey(raw, c.operator, c.key, c.operator, correctKey, c.policyValues);
        return true;
      },
    };
  }

  if ((claim === 'sub' || claim === 'aud') && isLiteralEquals(c.operator) && c.policyValues.some((v) => /[*?]/.test(v))) {
    const toOperator = c.operator.replace('StringEquals', 'StringLike');
    return {
      finding: {
        cause: 'WildcardNeedsStringLike', statement, condition,
        message: `${at}: StringEquals compares ${q(c.policyValues.find((v) => /[*?]/.test(v)))} literally; wildcards need StringLike.`,
        change: clip(`${statementName(trace.index, trace.sid)} Condition: ${q(c.operator)} → ${q(toOperator)} for ${q(c.key)}`),
      },
      apply: (doc) => {
        const raw = rawOf(doc);
        if (!raw) return false;
        moveConditionKey(raw, c.operator, c.key, toOperator, c.key, c.policyValues);
        return true;
      },
    };
  }

  const actual = claim === 'sub' ? ctx.sub : claim === 'aud' ? ctx.aud : c.requestValues?.[0];
  const like = isLike(c.operator);
  if (isNegated(c.operator)) {
    // a negated operator in an Allow statement excludes this request: drop the values that exclude it
    const keep = c.policyValues.filter((v) => !(c.requestValues ?? []).some((rv) => (like ? matchesPattern(v, rv) : v === rv)));
    return {
      finding: {
        cause: claim === 'sub' ? 'SubjectMismatch' : claim === 'aud' ? 'AudienceConditionMismatch' : 'ConditionMismatch', statement, condition,
        ...(claim === 'sub' ? { subject: { nearest: c.policyValues[0] ?? '', differs: 'other' as const } } : {}),
        message: `${at} excludes ${q(actual)}.`,
        change: clip(keep.length === 0 ? `${at}: remove` : `${at}: ${q(c.policyValues)} → ${q(keep)}`),
      },
      apply: (doc) => {
        const raw = rawOf(doc);
        if (!raw) return false;
        if (keep.length === 0) deleteConditionKey(raw, c.operator, c.key);
        else setValues((raw.Condition as Json)[c.operator] as Json, c.key, keep);
        return true;
      },
    };
  }

  if (c.requestValues === undefined || actual === undefined || c.operator === 'Null') {
    // the key is absent (amr for ServiceAccount tokens) or a Null test fails: IfExists, or no test
    const toOperator = c.operator === 'Null' || c.operator.endsWith('IfExists') ? undefined : `${c.operator}IfExists`;
    return {
      finding: {
        cause: 'ConditionMismatch', statement, condition,
        message: `${at} is false: the request ${c.requestValues === undefined ? 'has no such key' : `has ${q(c.requestValues)}`}.`,
        change: clip(toOperator ? `${statementName(trace.index, trace.sid)} Condition: ${q(c.operator)} → ${q(toOperator)} for ${q(c.key)}` : `${at}: remove`),
      },
      apply: (doc) => {
        const raw = rawOf(doc);
        if (!raw) return false;
        if (toOperator) moveConditionKey(raw, c.operator, c.key, toOperator, c.key, c.policyValues);
        else deleteConditionKey(raw, c.operator, c.key);
        return true;
      },
    };
  }

  const closest = nearest(c.policyValues, actual);
  const replacement = claim === 'sub' ? correctedSubject(closest, actual, like) : actual;
  const differs = claim === 'sub' ? subjectDiffers(closest, actual, like) : undefined;
  const cause: Cause = claim === 'sub' ? 'SubjectMismatch' : claim === 'aud' ? 'AudienceConditionMismatch' : 'ConditionMismatch';
  return {
    finding: {
      cause, statement, condition,
      ...(differs ? { subject: { nearest: closest, differs } } : {}),
      message: `${at} allows ${q(c.policyValues.length === 1 ? closest : c.policyValues)}, the token has ${q(actual)}${differs && differs !== 'other' ? ` (the ${differs === 'both' ? 'namespace and name differ' : `${differs} differs`})` : ''}.`,
      change: clip(`${at}: ${q(closest)} → ${q(replacement)}`),
    },
    apply: (doc) => {
      const raw = rawOf(doc);
      if (!raw) return false;
      setValues((raw.Condition as Json)[c.operator] as Json, c.key, c.policyValues.map((v) => (v === closest ? replacement : v)));
      return true;
    },
  };
}

/** The first thing wrong with the nearest Allow statement (principal, action, then conditions). */
function allowStatementFix(trace: StatementTrace, ctx: Context): Fix {
  const statement = { index: trace.index, sid: trace.sid };
  const name = statementName(trace.index, trace.sid);
  const rawOf = (doc: Json): Json | undefined => rawStatements(doc)[trace.index];
  if (!trace.principal.matched) {
    const expected = { arn: ctx.providerArn, partition: ctx.partition, account: ctx.account, url: ctx.providerUrl };
    const named = trace.principal.federated.length > 0 ? nearest(trace.principal.federated, ctx.providerArn) : undefined;
    const difference = trace.principal.element === 'NotPrincipal' ? `NotPrincipal excludes ${ctx.providerArn}`
      : named === undefined ? 'it names no Federated principal' : principalDifference(named, expected);
    return {
      finding: {
        cause: 'FederatedPrincipalMismatch', statement,
        message: `${name} Principal.Federated: ${difference}.`,
        change: clip(`${name} Principal.Federated: ${named === undefined ? '(none)' : q(named)} → ${q(ctx.providerArn)}`),
      },
      apply: (doc) => {
        const raw = rawOf(doc);
        if (!raw) return false;
        delete raw.NotPrincipal;
        const principal = isObject(raw.Principal) ? raw.Principal : {};
        const list = principal.Federated === undefined ? [] : ([] as unknown[]).concat(principal.Federated).map(String);
        const next = named === undefined ? [...list, ctx.providerArn] : list.map((f) => (f === named ? ctx.providerArn : f));
        principal.Federated = next.length === 1 ? next[0] : next;
        raw.Principal = principal;
        return true;
      },
    };
  }
  if (!trace.action.matched) {
    const patterns = trace.action.patterns;
    const named = trace.action.element === 'NotAction' ? undefined : nearest(patterns, WEB_IDENTITY_ACTION);
    return {
      finding: {
        cause: 'ActionNotAllowed', statement,
        message: trace.action.element === 'NotAction'
          ? `${name} NotAction ${q(patterns)} excludes ${WEB_IDENTITY_ACTION}.`
          : `${name} Action ${q(patterns.length === 1 ? patterns[0] : patterns)} does not include ${WEB_IDENTITY_ACTION}.`,
        change: clip(`${name} ${trace.action.element}: ${q(named ?? patterns)} → Action ${q(WEB_IDENTITY_ACTION)}`),
      },
      apply: (doc) => {
        const raw = rawOf(doc);
        if (!raw) return false;
        delete raw.NotAction;
        const list = raw.Action === undefined ? [] : ([] as unknown[]).concat(raw.Action).map(String);
        const next = list.length <= 1 ? [WEB_IDENTITY_ACTION] : list.map((a) => (a === named ? WEB_IDENTITY_ACTION : a));
        raw.Action = next.length === 1 ? next[0] : next;
        return true;
      },
    };
  }
  const failed = trace.conditions.find((c) => !c.matched);
  if (!failed) throw new Error('allowStatementFix: the statement applies');
  return conditionFix(trace, failed, ctx);
}

/** The next fix for a policy the evaluator does not allow, or undefined when it allows. */
function nextPolicyFix(doc: Json, ctx: Context): Fix | undefined {
  const evaluation = evaluateTrustPolicy(parseTrustPolicy(doc), { federatedPrincipal: ctx.providerArn, action: WEB_IDENTITY_ACTION, context: ctx.request });
  if (evaluation.decision === 'Allow') return undefined;
  const deny = evaluation.statements.find((s) => s.applies && s.effect === 'Deny');
  if (deny) {
    const name = statementName(deny.index, deny.sid);
    const first = deny.conditions[0];
    return {
      finding: {
        cause: 'ExplicitDeny', statement: { index: deny.index, sid: deny.sid },
        // the Deny's first condition, which this request satisfies
        ...(first ? { condition: { operator: first.operator, key: first.key, policyValues: first.policyValues, requestValues: first.requestValues } } : {}),
        message: `${name} is a Deny that applies to ${q(ctx.sub)}${deny.conditions.length > 0 ? ` (${deny.conditions.map((c) => `${c.operator} ${c.key} ${q(c.policyValues)}`).join(', ')})` : ''}.`,
        change: clip(`remove ${name} (Effect Deny)`),
      },
      apply: (d) => {
        if (Array.isArray(d.Statement)) (d.Statement as unknown[]).splice(deny.index, 1);
        else d.Statement = [];
        return true;
      },
    };
  }
  // the Allow statement closest to applying: fewest failing parts, the first one on a tie
  const failing = (s: StatementTrace): number => (s.principal.matched ? 0 : 1) + (s.action.matched ? 0 : 1) + s.conditions.filter((c) => !c.matched).length;
  const candidates = evaluation.statements.filter((s) => s.effect === 'Allow');
  const best = candidates.reduce<StatementTrace | undefined>((b, s) => (b === undefined || failing(s) < failing(b) ? s : b), undefined);
  if (best) return allowStatementFix(best, ctx);
  const added = minimalStatement(ctx.providerArn, ctx.providerUrl, ctx.sub, ctx.aud);
  return {
    finding: {
      cause: 'NoAllowStatement',
      message: 'The trust policy has no Allow statement, so every web identity is refused.',
      change: clip(`add Statement: Allow Federated ${q(ctx.providerArn)} ${WEB_IDENTITY_ACTION} with StringEquals ${q(`${ctx.providerUrl}:sub`)}: ${q(ctx.sub)}`),
    },
    apply: (d) => {
      d.Statement = [...rawStatements(d), added];
      return true;
    },
  };
}

/** Diagnoses why STS refuses (or would refuse) the token for the role. */
export function diagnose(input: DiagnosisInput): Diagnosis {
  const arn = parseRoleArn(input.roleArn);
  if (!arn) throw new Error(`not a role ARN: ${q(input.roleArn)}`);
  const findings: Finding[] = [];
  const providerUrl = providerUrlOf(input.token.iss);
  const providerArn = oidcProviderArn(arn.partition, arn.account, providerUrl);
  let correctedProvider: ProviderFacts | undefined;

  const provider = input.token.iss.startsWith('https://') ? input.providers.find((p) => providerUrlOf(p.url) === providerUrl) : undefined;
  const preferredAud = input.token.aud.includes('sts.amazonaws.com') ? 'sts.amazonaws.com' : input.token.aud[0] ?? 'sts.amazonaws.com';
  if (!provider) {
    const near = input.providers.find((p) => providerUrlOf(p.url).replace(/\/+$/, '').toLowerCase() === providerUrl.replace(/\/+$/, '').toLowerCase());
    correctedProvider = { url: providerUrl, clientIds: [preferredAud] };
    findings.push({
      cause: 'ProviderMissingInAccount',
      message: `Account ${arn.account} has no IAM OIDC provider for ${input.token.iss}${near ? ` (it has ${q(providerUrlOf(near.url))}, which IAM matches exactly, case and slashes included)` : ''}.`,
      change: clip(`create OIDC provider ${q(`https://${providerUrl}`)} with client ID ${q(preferredAud)} in account ${arn.account}`),
    });
  } else if (!input.token.aud.some((a) => provider.clientIds.includes(a))) {
    correctedProvider = { url: providerUrl, clientIds: [...provider.clientIds, preferredAud] };
    findings.push({
      cause: 'ClientIdMissing',
      message: `The OIDC provider ${providerUrl} lists client IDs ${q(provider.clientIds)}, the token's aud is ${q(input.token.aud)}.`,
      change: clip(`add client ID ${q(preferredAud)} to OIDC provider ${providerUrl}`),
    });
  }
  const effectiveProvider = correctedProvider ?? provider!;
  // STS matches the first of the token's audiences the provider lists
  const aud = input.token.aud.find((a) => effectiveProvider.clientIds.includes(a)) ?? preferredAud;

  if (input.trustPolicy === undefined) {
    findings.push({
      cause: 'RoleNotFound',
      message: `Role ${arn.name} does not exist in account ${arn.account} (IAM GetRole: NoSuchEntity).`,
      change: clip(`create role ${arn.name} in account ${arn.account} with a trust policy for ${q(input.token.sub)}`),
    });
    return {
      cause: findings[0]?.cause, findings, correctedProvider, resolved: true,
      correctedTrustPolicy: minimalTrustPolicy(providerArn, providerUrl, input.token.sub, aud),
    };
  }

  const request: Record<string, readonly string[]> = {
    [`${providerUrl}:sub`]: [input.token.sub],
    [`${providerUrl}:aud`]: [aud],
    ...(input.roleSessionName === undefined ? {} : { 'sts:RoleSessionName': [input.roleSessionName] }),
    ...(input.token.amr === undefined ? {} : { [`${providerUrl}:amr`]: input.token.amr }),
  };
  const ctx: Context = { providerArn, providerUrl, partition: arn.partition, account: arn.account, sub: input.token.sub, aud, request };
  let doc: Json;
  try {
    const parsed: unknown = typeof input.trustPolicy === 'string' ? JSON.parse(input.trustPolicy) : input.trustPolicy;
    parseTrustPolicy(parsed);
    doc = structuredClone(parsed) as Json;
  } catch (err) {
    const detail = err instanceof PolicyError ? err.message : `not valid JSON (${(err as Error).message})`;
    findings.push({ cause: 'PolicyNotUnderstood', message: `The trust policy cannot be evaluated: ${detail}.`, change: clip(detail) });
    return { cause: findings[0]?.cause, findings, correctedTrustPolicy: undefined, correctedProvider, resolved: false };
  }

  let changed = false;
  for (let i = 0; i < MAX_FIXES; i++) {
    const fix = nextPolicyFix(doc, ctx);
    if (!fix) return { cause: findings[0]?.cause, findings, correctedTrustPolicy: changed ? doc : undefined, correctedProvider, resolved: true };
    findings.push(fix.finding);
    if (!fix.apply(doc)) break;
    changed = true;
  }
  return { cause: findings[0]?.cause, findings, correctedTrustPolicy: undefined, correctedProvider, resolved: false };
}
