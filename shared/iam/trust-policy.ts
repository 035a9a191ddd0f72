// IAM trust-policy parsing and evaluation for AssumeRoleWithWebIdentity, following the IAM policy
// evaluation rules: a statement applies when its principal, action and every condition match;
// an applicable Deny wins over any Allow; no applicable Allow is an implicit deny. Unknown condition
// operators are a policy error (IAM rejects them when the policy is saved), never a silent allow.
// The STS emulator enforces with this module and the diagnosis explains with it, so the two can
// never disagree; the trace says, per statement, which of principal, action and condition failed.

export class PolicyError extends Error {
  /** JSON-path-like location inside the policy, e.g. `Statement[0].Condition.StringEqualz`. */
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'PolicyError';
    this.path = path;
  }
}

type BaseOperator =
  | 'StringEquals' | 'StringNotEquals' | 'StringEqualsIgnoreCase' | 'StringNotEqualsIgnoreCase'
  | 'StringLike' | 'StringNotLike' | 'Bool' | 'ArnEquals' | 'ArnLike' | 'ArnNotEquals' | 'ArnNotLike';

const BASE_OPERATORS: ReadonlySet<string> = new Set<BaseOperator>([
  'StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase',
  'StringLike', 'StringNotLike', 'Bool', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike',
]);
const NEGATED: ReadonlySet<string> = new Set(['StringNotEquals', 'StringNotEqualsIgnoreCase', 'StringNotLike', 'ArnNotEquals', 'ArnNotLike']);

export interface ConditionClause {
  /** As written, for explanations. */
  readonly operator: string;
  readonly base: BaseOperator | 'Null';
  readonly set: 'ForAnyValue' | 'ForAllValues' | undefined;
  readonly ifExists: boolean;
  /** Condition key as written; matched case-insensitively. */
  readonly key: string;
  readonly values: readonly string[];
}

export interface Statement {
  readonly sid: string | undefined;
  readonly effect: 'Allow' | 'Deny';
  readonly principal: { readonly any: boolean; readonly federated: readonly string[] } | undefined;
  readonly notPrincipal: { readonly any: boolean; readonly federated: readonly string[] } | undefined;
  readonly actions: readonly string[] | undefined;
  readonly notActions: readonly string[] | undefined;
  readonly conditions: readonly ConditionClause[];
}

export interface TrustPolicy {
  readonly version: string | undefined;
  readonly statements: readonly Statement[];
}

export interface AssumeRequest {
  /** The IAM OIDC provider ARN resolved from the token's issuer. */
  readonly federatedPrincipal: string;
  readonly action: string;
  /** Condition context; keys are matched case-insensitively, values are multi-valued. */
  readonly context: Readonly<Record<string, readonly string[]>>;
}

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

/** Principal or NotPrincipal against the request's federated principal. */
export interface PrincipalTrace {
  readonly element: 'Principal' | 'NotPrincipal';
  readonly matched: boolean;
  /** The statement's Federated entries (`*` principals show as `any`). */
  readonly federated: readonly string[];
  readonly any: boolean;
  readonly request: string;
}

/** Action or NotAction against the requested action. */
export interface ActionTrace {
  readonly element: 'Action' | 'NotAction';
  readonly matched: boolean;
  readonly patterns: readonly string[];
  readonly request: string;
}

/** One condition key under one operator, with what the policy wants and what the request had. */
export interface ConditionTrace {
  readonly operator: string;
  readonly key: string;
  readonly policyValues: readonly string[];
  /** The request's values for the key; undefined when the key is absent. */
  readonly requestValues: readonly string[] | undefined;
  readonly matched: boolean;
}

export interface StatementTrace {
  readonly index: number;
  readonly sid: string | undefined;
  readonly effect: 'Allow' | 'Deny';
  readonly applies: boolean;
  /** Why the statement does not apply (first failing part), when it does not. */
  readonly mismatch: string | undefined;
  readonly principal: PrincipalTrace;
  readonly action: ActionTrace;
  /** Every condition, evaluated even after one failed, so an explanation can name them all. */
  readonly conditions: readonly ConditionTrace[];
}

export interface Evaluation {
  readonly decision: Decision;
  readonly statements: readonly StatementTrace[];
}

// ---------------------------------------------------------------------------------------------
// Parsing

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(v: unknown, path: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) throw new PolicyError(path, 'must not be an empty list');
  return list.map((item, i) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'number' || typeof item === 'boolean') return String(item);
    throw new PolicyError(Array.isArray(v) ? `${path}[${i}]` : path, `must be a string, got ${item === null ? 'null' : typeof item}`);
  });
}

function parsePrincipal(v: unknown, path: string): { any: boolean; federated: string[] } {
  if (v === '*') return { any: true, federated: [] };
  if (!isObject(v)) throw new PolicyError(path, 'must be "*" or an object such as {"Federated": "<provider ARN>"}');
  let any = false;
  const federated: string[] = [];
  for (const [type, value] of Object.entries(v)) {
    if (!['Federated', 'AWS', 'Service', 'CanonicalUser'].includes(type)) throw new PolicyError(`${path}.${type}`, 'unknown principal type');
    const list = stringList(value, `${path}.${type}`);
    if (type === 'AWS' && list.includes('*')) any = true;
    if (type === 'Federated') federated.push(...list);
  }
  return { any, federated };
}

function parseConditions(v: unknown, path: string): ConditionClause[] {
  if (v === undefined) return [];
  if (!isObject(v)) throw new PolicyError(path, 'must be an object of operators');
  const clauses: ConditionClause[] = [];
  for (const [operator, block] of Object.entries(v)) {
    const opPath = `${path}.${operator}`;
    let rest = operator;
    let set: ConditionClause['set'];
    const qualifier = /^(ForAnyValue|ForAllValues):(.+)$/.exec(rest);
    if (qualifier) {
      set = qualifier[1] as ConditionClause['set'];
      rest = qualifier[2] ?? '';
    }
    const ifExists = rest !== 'Null' && rest.endsWith('IfExists');
    if (ifExists) rest = rest.slice(0, -'IfExists'.length);
    if (rest !== 'Null' && !BASE_OPERATORS.has(rest)) {
      throw new PolicyError(opPath, `unsupported condition operator "${operator}"`);
    }
    if (rest === 'Null' && set) throw new PolicyError(opPath, 'Null cannot take a set qualifier');
    if (!isObject(block)) throw new PolicyError(opPath, 'must be an object of condition keys');
    for (const [key, values] of Object.entries(block)) {
      const list = stringList(values, `${opPath}.${key}`);
      if (rest === 'Null' || rest === 'Bool') {
        const bad = list.find((x) => x !== 'true' && x !== 'false');
        if (bad !== undefined) throw new PolicyError(`${opPath}.${key}`, `${rest} takes "true" or "false", got "${bad}"`);
      }
      clauses.push({ operator, base: rest as ConditionClause['base'], set, ifExists, key, values: list });
    }
  }
  return clauses;
}

/** Parses a trust policy from JSON text or an already parsed object; throws PolicyError. */
export function parseTrustPolicy(input: unknown): TrustPolicy {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (err) {
      throw new PolicyError('$', `not valid JSON (${(err as Error).message})`);
    }
  }
  if (!isObject(doc)) throw new PolicyError('$', 'a policy must be a JSON object');
  const version = doc.Version;
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') {
    throw new PolicyError('Version', `must be "2012-10-17" or "2008-10-17", got ${JSON.stringify(version)}`);
  }
  const rawStatements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement === undefined ? undefined : [doc.Statement];
  if (!rawStatements) throw new PolicyError('Statement', 'is required');
  const statements = rawStatements.map((s: unknown, i): Statement => {
    const p = `Statement[${i}]`;
    if (!isObject(s)) throw new PolicyError(p, 'must be an object');
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyError(`${p}.Effect`, `must be "Allow" or "Deny", got ${JSON.stringify(s.Effect)}`);
    if ((s.Principal === undefined) === (s.NotPrincipal === undefined)) throw new PolicyError(p, 'needs exactly one of Principal or NotPrincipal');
    if ((s.Action === undefined) === (s.NotAction === undefined)) throw new PolicyError(p, 'needs exactly one of Action or NotAction');
    return {
      sid: typeof s.Sid === 'string' ? s.Sid : undefined,
      effect: s.Effect,
      principal: s.Principal === undefined ? undefined : parsePrincipal(s.Principal, `${p}.Principal`),
      notPrincipal: s.NotPrincipal === undefined ? undefined : parsePrincipal(s.NotPrincipal, `${p}.NotPrincipal`),
      actions: s.Action === undefined ? undefined : stringList(s.Action, `${p}.Action`),
      notActions: s.NotAction === undefined ? undefined : stringList(s.NotAction, `${p}.NotAction`),
      conditions: parseConditions(s.Condition, `${p}.Condition`),
    };
  });
  return { version: typeof version === 'string' ? version : undefined, statements };
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** IAM glob: `*` any run (including empty), `?` one character; `${*}` `${?}` `${$}` are literals. */
function globToRegExp(pattern: string, ignoreCase: boolean): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const literal = /^\$\{([*?$])\}/.exec(pattern.slice(i));
    if (literal) {
      out += escapeRegExp(literal[1] ?? '');
      i += literal[0].length - 1;
    } else if (pattern[i] === '*') out += '.*';
    else if (pattern[i] === '?') out += '.';
    else out += escapeRegExp(pattern[i] ?? '');
  }
  return new RegExp(`^${out}$`, ignoreCase ? 'is' : 's');
}

/** Whether a value matches an IAM pattern (StringLike's `*` and `?`), case-sensitively. */
export function matchesPattern(pattern: string, value: string): boolean {
  return globToRegExp(pattern, false).test(value);
}

/** Replaces `${key}` policy variables with single-valued context values (2012-10-17 only). */
function substitute(value: string, lookup: (key: string) => readonly string[] | undefined, enabled: boolean): string {
  if (!enabled) return value;
  return value.replace(/\$\{([^}*?$][^}]*)\}/g, (whole, key: string) => {
    const v = lookup(key);
    return v && v.length === 1 ? (v[0] ?? whole) : whole;
  });
}

function matchesValue(base: BaseOperator, policyValue: string, requestValue: string): boolean {
  switch (base) {
    case 'StringEquals': case 'StringNotEquals': case 'ArnEquals': case 'ArnNotEquals':
      return policyValue === requestValue;
    case 'StringEqualsIgnoreCase': case 'StringNotEqualsIgnoreCase':
      return policyValue.toLowerCase() === requestValue.toLowerCase();
    case 'StringLike': case 'StringNotLike': case 'ArnLike': case 'ArnNotLike':
      return globToRegExp(policyValue, false).test(requestValue);
    case 'Bool':
      return policyValue === requestValue.toLowerCase();
  }
}

function evaluateClause(c: ConditionClause, lookup: (key: string) => readonly string[] | undefined, variables: boolean): boolean {
  const present = lookup(c.key);
  const absent = present === undefined || present.length === 0;
  if (c.base === 'Null') {
    // several values act as OR, like any other operator
    return c.values.some((v) => (v === 'true') === absent);
  }
  if (absent) {
    if (c.ifExists) return true;
    if (c.set === 'ForAnyValue') return false;
    if (c.set === 'ForAllValues') return true;
    return NEGATED.has(c.base);
  }
  const negated = NEGATED.has(c.base);
  const policyValues = c.values.map((v) => substitute(v, lookup, variables));
  const base = c.base;
  // a request value satisfies a positive operator when it matches any policy value (OR), and a
  // negated one when it matches none of them (the list acts as AND)
  const satisfied = (rv: string): boolean => {
    const anyMatch = policyValues.some((pv) => matchesValue(base, pv, rv));
    return negated ? !anyMatch : anyMatch;
  };
  if (c.set === 'ForAllValues') return present.every(satisfied);
  if (c.set === 'ForAnyValue') return present.some(satisfied);
  return negated ? present.every(satisfied) : present.some(satisfied);
}

function actionMatches(patterns: readonly string[], action: string): boolean {
  return patterns.some((p) => globToRegExp(p, true).test(action));
}

function principalMatches(p: { any: boolean; federated: readonly string[] }, federated: string): boolean {
  return p.any || p.federated.includes(federated) || p.federated.includes('*');
}

export function evaluateTrustPolicy(policy: TrustPolicy, request: AssumeRequest): Evaluation {
  const lowered = new Map(Object.entries(request.context).map(([k, v]) => [k.toLowerCase(), v]));
  const lookup = (key: string): readonly string[] | undefined => lowered.get(key.toLowerCase());
  const variables = policy.version === '2012-10-17';
  const traces = policy.statements.map((s, index): StatementTrace => {
    const principalSpec = s.principal ?? s.notPrincipal ?? { any: false, federated: [] };
    const principalNamed = principalMatches(principalSpec, request.federatedPrincipal);
    const principal: PrincipalTrace = {
      element: s.principal ? 'Principal' : 'NotPrincipal', matched: s.principal ? principalNamed : !principalNamed,
      federated: principalSpec.federated, any: principalSpec.any, request: request.federatedPrincipal,
    };
    const patterns = s.actions ?? s.notActions ?? [];
    const actionNamed = actionMatches(patterns, request.action);
    const action: ActionTrace = {
      element: s.actions ? 'Action' : 'NotAction', matched: s.actions ? actionNamed : !actionNamed, patterns, request: request.action,
    };
    const conditions = s.conditions.map((c): ConditionTrace => ({
      operator: c.operator, key: c.key, policyValues: c.values, requestValues: lookup(c.key), matched: evaluateClause(c, lookup, variables),
    }));
    let mismatch: string | undefined;
    if (!principal.matched) {
      mismatch = s.principal ? `Principal does not name ${request.federatedPrincipal}` : `NotPrincipal names ${request.federatedPrincipal}`;
    } else if (!action.matched) {
      mismatch = s.actions ? `Action does not include ${request.action}` : `NotAction includes ${request.action}`;
    } else {
      const failed = conditions.find((c) => !c.matched);
      if (failed) {
        const actual = failed.requestValues;
        mismatch = `Condition ${failed.operator} ${failed.key} ${JSON.stringify(failed.policyValues)} is false for ${actual ? JSON.stringify(actual) : 'a missing key'}`;
      }
    }
    return { index, sid: s.sid, effect: s.effect, applies: mismatch === undefined, mismatch, principal, action, conditions };
  });
  const decision: Decision = traces.some((t) => t.applies && t.effect === 'Deny') ? 'ExplicitDeny'
    : traces.some((t) => t.applies && t.effect === 'Allow') ? 'Allow' : 'ImplicitDeny';
  return { decision, statements: traces };
}
