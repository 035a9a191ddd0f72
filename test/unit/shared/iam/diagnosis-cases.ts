// Misconfigured trust policies and OIDC providers, each with the diagnosis it must get. Built for a
// given issuer, account and ServiceAccount, so the unit table runs them on fixed values and the
// integration test on the real control plane's issuer and token, feeding the corrections to STS.
import type { Cause, ProviderFacts, SubjectPart } from '../../../../shared/iam/diagnose.ts';

export interface DiagnosisEnv {
  /** The issuer without https://. */
  readonly providerUrl: string;
  readonly account: string;
  readonly namespace: string;
  readonly name: string;
}

export interface DiagnosisCase {
  readonly name: string;
  /** undefined: the role does not exist. */
  readonly trustPolicy: unknown;
  /** The account's providers; default: the issuer with client ID sts.amazonaws.com. */
  readonly providers?: readonly ProviderFacts[];
  readonly expect: {
    /** Every finding's cause, in order; the first is the diagnosis' cause. */
    readonly causes: readonly Cause[];
    /** The first finding's statement index. */
    readonly statement?: number;
    readonly sid?: string;
    /** The first finding's condition. */
    readonly condition?: { readonly operator: string; readonly key: string };
    readonly subject?: { readonly nearest: string; readonly differs: SubjectPart };
    /** Text the first finding's one-line change contains. */
    readonly change: string;
  };
}

const AUD = 'sts.amazonaws.com';
const ACTION = 'sts:AssumeRoleWithWebIdentity';

export function diagnosisCases(env: DiagnosisEnv): DiagnosisCase[] {
  const { providerUrl: P, account, namespace: ns, name } = env;
  const PA = `arn:aws:iam::${account}:oidc-provider/${P}`;
  const SUB = `system:serviceaccount:${ns}:${name}`;
  const sub = `${P}:sub`;
  const aud = `${P}:aud`;
  const stmt = (over: Record<string, unknown> = {}) => ({
    Effect: 'Allow', Principal: { Federated: PA }, Action: ACTION, Condition: { StringEquals: { [sub]: SUB, [aud]: AUD } }, ...over,
  });
  const cond = (c: Record<string, unknown>) => stmt({ Condition: c });
  const policy = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
  const provider = (clientIds: string[] = [AUD], url = P): ProviderFacts => ({ url, clientIds });

  return [
    // the subject
    { name: 'sub names another namespace (the demo: shop-prod instead of shop)', trustPolicy: policy(cond({ StringEquals: { [sub]: `system:serviceaccount:${ns}-prod:${name}`, [aud]: AUD } })),
      expect: { causes: ['SubjectMismatch'], statement: 0, condition: { operator: 'StringEquals', key: sub }, subject: { nearest: `system:serviceaccount:${ns}-prod:${name}`, differs: 'namespace' }, change: `"system:serviceaccount:${ns}-prod:${name}" → "${SUB}"` } },
    { name: 'sub names another ServiceAccount in the namespace', trustPolicy: policy(cond({ StringEquals: { [sub]: `system:serviceaccount:${ns}:${name}-v2`, [aud]: AUD } })),
      expect: { causes: ['SubjectMismatch'], statement: 0, condition: { operator: 'StringEquals', key: sub }, subject: { nearest: `system:serviceaccount:${ns}:${name}-v2`, differs: 'name' }, change: `→ "${SUB}"` } },
    { name: 'sub differs in namespace and name', trustPolicy: policy(cond({ StringEquals: { [sub]: 'system:serviceaccount:billing:invoices', [aud]: AUD } })),
      expect: { causes: ['SubjectMismatch'], statement: 0, subject: { nearest: 'system:serviceaccount:billing:invoices', differs: 'both' }, change: `"system:serviceaccount:billing:invoices" → "${SUB}"` } },
    { name: 'the nearest of several allowed subjects is named', trustPolicy: policy(cond({ StringEquals: { [sub]: ['system:serviceaccount:kube-system:default', `system:serviceaccount:${ns}:${name}x`], [aud]: AUD } })),
      expect: { causes: ['SubjectMismatch'], statement: 0, subject: { nearest: `system:serviceaccount:${ns}:${name}x`, differs: 'name' }, change: `"system:serviceaccount:${ns}:${name}x" → "${SUB}"` } },
    { name: 'StringLike pattern for another namespace keeps its wildcard', trustPolicy: policy(cond({ StringLike: { [sub]: `system:serviceaccount:${ns}-prod:*` }, StringEquals: { [aud]: AUD } })),
      expect: { causes: ['SubjectMismatch'], statement: 0, condition: { operator: 'StringLike', key: sub }, subject: { nearest: `system:serviceaccount:${ns}-prod:*`, differs: 'namespace' }, change: `→ "system:serviceaccount:${ns}:*"` } },
    { name: 'StringEqualsIfExists still checks the present sub', trustPolicy: policy(cond({ StringEqualsIfExists: { [sub]: `system:serviceaccount:other:${name}` }, StringEquals: { [aud]: AUD } })),
      expect: { causes: ['SubjectMismatch'], statement: 0, condition: { operator: 'StringEqualsIfExists', key: sub }, subject: { nearest: `system:serviceaccount:other:${name}`, differs: 'namespace' }, change: `→ "${SUB}"` } },
    { name: 'StringNotEquals excludes this very ServiceAccount', trustPolicy: policy(cond({ StringNotEquals: { [sub]: SUB }, StringEquals: { [aud]: AUD } })),
      expect: { causes: ['SubjectMismatch'], statement: 0, condition: { operator: 'StringNotEquals', key: sub }, change: 'remove' } },
    { name: 'several Allow statements: the nearest one (only sub wrong) is named', trustPolicy: policy(
      stmt({ Sid: 'Ci', Action: 'sts:AssumeRole', Condition: { StringEquals: { [sub]: 'system:serviceaccount:ci:runner' } } }),
      stmt({ Sid: 'App', Condition: { StringEquals: { [sub]: `system:serviceaccount:${ns}-prod:${name}`, [aud]: AUD } } })),
      expect: { causes: ['SubjectMismatch'], statement: 1, sid: 'App', subject: { nearest: `system:serviceaccount:${ns}-prod:${name}`, differs: 'namespace' }, change: 'Statement[1] (Sid "App")' } },
    { name: 'a single Statement object (not a list) with the wrong sub', trustPolicy: { Version: '2012-10-17', Statement: cond({ StringEquals: { [sub]: `system:serviceaccount:${ns}:default` } }) },
      expect: { causes: ['SubjectMismatch'], statement: 0, subject: { nearest: `system:serviceaccount:${ns}:default`, differs: 'name' }, change: `→ "${SUB}"` } },

    // the audience
    { name: 'aud condition for the China partition audience', trustPolicy: policy(cond({ StringEquals: { [sub]: SUB, [aud]: 'sts.amazonaws.com.cn' } })),
      expect: { causes: ['AudienceConditionMismatch'], statement: 0, condition: { operator: 'StringEquals', key: aud }, change: `"sts.amazonaws.com.cn" → "${AUD}"` } },
    { name: 'aud condition lists other audiences only', trustPolicy: policy(cond({ StringEquals: { [sub]: SUB, [aud]: ['vault', 'api.example.com'] } })),
      expect: { causes: ['AudienceConditionMismatch'], statement: 0, condition: { operator: 'StringEquals', key: aud }, change: `→ "${AUD}"` } },

    // wildcards under StringEquals
    { name: 'StringEquals with * in sub', trustPolicy: policy(cond({ StringEquals: { [sub]: `system:serviceaccount:${ns}:*`, [aud]: AUD } })),
      expect: { causes: ['WildcardNeedsStringLike'], statement: 0, condition: { operator: 'StringEquals', key: sub }, change: '"StringEquals" → "StringLike"' } },
    { name: 'StringEquals with ? in sub', trustPolicy: policy(cond({ StringEquals: { [sub]: `system:serviceaccount:${ns}:${name.slice(0, -1)}?`, [aud]: AUD } })),
      expect: { causes: ['WildcardNeedsStringLike'], statement: 0, condition: { operator: 'StringEquals', key: sub }, change: '"StringEquals" → "StringLike"' } },
    { name: 'StringEquals with a wildcard for another namespace: two fixes', trustPolicy: policy(cond({ StringEquals: { [sub]: 'system:serviceaccount:other:*', [aud]: AUD } })),
      expect: { causes: ['WildcardNeedsStringLike', 'SubjectMismatch'], statement: 0, condition: { operator: 'StringEquals', key: sub }, change: '"StringEquals" → "StringLike"' } },
    { name: 'ForAnyValue:StringEquals with * in aud', trustPolicy: policy(cond({ StringEquals: { [sub]: SUB }, 'ForAnyValue:StringEquals': { [aud]: 'sts.*' } })),
      expect: { causes: ['WildcardNeedsStringLike'], statement: 0, condition: { operator: 'ForAnyValue:StringEquals', key: aud }, change: '"ForAnyValue:StringLike"' } },

    // the principal
    { name: 'Federated principal in another account', trustPolicy: policy(stmt({ Principal: { Federated: `arn:aws:iam::999988887777:oidc-provider/${P}` } })),
      expect: { causes: ['FederatedPrincipalMismatch'], statement: 0, change: `→ "${PA}"` } },
    { name: 'Federated principal with https:// in the provider part', trustPolicy: policy(stmt({ Principal: { Federated: `arn:aws:iam::${account}:oidc-provider/https://${P}` } })),
      expect: { causes: ['FederatedPrincipalMismatch'], statement: 0, change: `→ "${PA}"` } },
    { name: 'Federated principal with a trailing slash', trustPolicy: policy(stmt({ Principal: { Federated: `${PA}/` } })),
      expect: { causes: ['FederatedPrincipalMismatch'], statement: 0, change: `"${PA}/" → "${PA}"` } },
    { name: 'Federated principal is the issuer URL, not the provider ARN', trustPolicy: policy(stmt({ Principal: { Federated: `https://${P}` } })),
      expect: { causes: ['FederatedPrincipalMismatch'], statement: 0, change: `"https://${P}" → "${PA}"` } },
    { name: 'Federated principal in the aws-cn partition', trustPolicy: policy(stmt({ Principal: { Federated: `arn:aws-cn:iam::${account}:oidc-provider/${P}` } })),
      expect: { causes: ['FederatedPrincipalMismatch'], statement: 0, change: `→ "${PA}"` } },
    { name: 'another issuer host in the principal and in both condition keys', trustPolicy: policy(stmt({
      Principal: { Federated: `arn:aws:iam::${account}:oidc-provider/oidc.old.example.com` },
      Condition: { StringEquals: { 'oidc.old.example.com:sub': SUB, 'oidc.old.example.com:aud': AUD } } })),
      expect: { causes: ['FederatedPrincipalMismatch', 'ConditionKeyTypo', 'ConditionKeyTypo'], statement: 0, change: `→ "${PA}"` } },
    { name: 'an AWS principal instead of a Federated one', trustPolicy: policy(stmt({ Principal: { AWS: `arn:aws:iam::${account}:root` } })),
      expect: { causes: ['FederatedPrincipalMismatch'], statement: 0, change: `(none) → "${PA}"` } },

    // the action
    { name: 'sts:AssumeRole instead of sts:AssumeRoleWithWebIdentity', trustPolicy: policy(stmt({ Action: 'sts:AssumeRole' })),
      expect: { causes: ['ActionNotAllowed'], statement: 0, change: `"sts:AssumeRole" → Action "${ACTION}"` } },
    { name: 'an action list without the web-identity action', trustPolicy: policy(stmt({ Action: ['sts:TagSession', 'sts:AssumeRole'] })),
      expect: { causes: ['ActionNotAllowed'], statement: 0, change: `"sts:AssumeRole" → Action "${ACTION}"` } },
    { name: 'NotAction excluding the web-identity action', trustPolicy: policy({ Effect: 'Allow', Principal: { Federated: PA }, NotAction: 'sts:AssumeRoleWith*', Condition: { StringEquals: { [sub]: SUB } } }),
      expect: { causes: ['ActionNotAllowed'], statement: 0, change: 'NotAction' } },
    { name: 'wrong action, wildcard under StringEquals and wrong aud in one statement', trustPolicy: policy(stmt({ Action: 'sts:AssumeRole', Condition: { StringEquals: { [sub]: `system:serviceaccount:${ns}:*`, [aud]: 'sts.amazonaws.com.cn' } } })),
      expect: { causes: ['ActionNotAllowed', 'WildcardNeedsStringLike', 'AudienceConditionMismatch'], statement: 0, change: `Action "${ACTION}"` } },

    // explicit Deny
    { name: 'a Deny for the whole namespace wins over the Allow', trustPolicy: policy(stmt(), stmt({ Sid: 'NoShop', Effect: 'Deny', Condition: { StringLike: { [sub]: `system:serviceaccount:${ns}:*` } } })),
      expect: { causes: ['ExplicitDeny'], statement: 1, sid: 'NoShop', condition: { operator: 'StringLike', key: sub }, change: 'remove Statement[1] (Sid "NoShop") (Effect Deny)' } },
    { name: 'an unconditional Deny among three statements', trustPolicy: policy(stmt({ Sid: 'Other', Condition: { StringEquals: { [sub]: 'system:serviceaccount:a:b' } } }), stmt(), { Sid: 'Freeze', Effect: 'Deny', Principal: '*', Action: 'sts:*' }),
      expect: { causes: ['ExplicitDeny'], statement: 2, sid: 'Freeze', change: 'remove Statement[2] (Sid "Freeze")' } },
    { name: 'a Deny with IfExists on a key the token lacks applies (amr)', trustPolicy: policy(stmt(), stmt({ Effect: 'Deny', Condition: { StringNotEqualsIfExists: { [`${P}:amr`]: 'authenticated' } } })),
      expect: { causes: ['ExplicitDeny'], statement: 1, condition: { operator: 'StringNotEqualsIfExists', key: `${P}:amr` }, change: 'remove Statement[1]' } },
    { name: 'a Deny and a wrong sub in the Allow: both fixed', trustPolicy: policy(stmt({ Condition: { StringEquals: { [sub]: `system:serviceaccount:${ns}-prod:${name}` } } }), stmt({ Effect: 'Deny', Condition: { StringLike: { [sub]: `system:serviceaccount:${ns}:*` } } })),
      expect: { causes: ['ExplicitDeny', 'SubjectMismatch'], statement: 1, change: 'remove Statement[1]' } },
    { name: 'only a Deny for another provider: no Allow at all', trustPolicy: policy(stmt({ Effect: 'Deny', Principal: { Federated: `arn:aws:iam::${account}:oidc-provider/other.example.com` } })),
      expect: { causes: ['NoAllowStatement'], change: 'add Statement' } },

    // condition keys
    { name: 'sub key with a trailing space', trustPolicy: policy(cond({ StringEquals: { [`${sub} `]: SUB, [aud]: AUD } })),
      expect: { causes: ['ConditionKeyTypo'], statement: 0, condition: { operator: 'StringEquals', key: `${sub} ` }, change: `key "${sub} " → "${sub}"` } },
    { name: 'condition keys with https:// before the issuer host', trustPolicy: policy(cond({ StringEquals: { [`https://${sub}`]: SUB, [`https://${aud}`]: AUD } })),
      expect: { causes: ['ConditionKeyTypo', 'ConditionKeyTypo'], statement: 0, condition: { operator: 'StringEquals', key: `https://${sub}` }, change: `→ "${sub}"` } },
    { name: 'a :subject key (the claim misspelt)', trustPolicy: policy(cond({ StringLike: { [`${P}:subject`]: `system:serviceaccount:${ns}:*` } })),
      expect: { causes: ['ConditionKeyTypo'], statement: 0, condition: { operator: 'StringLike', key: `${P}:subject` }, change: `→ "${sub}"` } },
    { name: 'a misspelt key with the wrong value: two fixes', trustPolicy: policy(cond({ StringEquals: { [`${P}:sub `]: `system:serviceaccount:other:${name}`, [aud]: AUD } })),
      expect: { causes: ['ConditionKeyTypo', 'SubjectMismatch'], statement: 0, change: `key "${P}:sub " → "${sub}"` } },

    // other conditions
    { name: 'amr required but ServiceAccount tokens have none', trustPolicy: policy(cond({ StringEquals: { [sub]: SUB, [`${P}:amr`]: 'authenticated' } })),
      expect: { causes: ['ConditionMismatch'], statement: 0, condition: { operator: 'StringEquals', key: `${P}:amr` }, change: '"StringEqualsIfExists"' } },
    { name: 'ForAnyValue on a missing amr', trustPolicy: policy(cond({ StringEquals: { [sub]: SUB }, 'ForAnyValue:StringLike': { [`${P}:amr`]: 'auth*' } })),
      expect: { causes: ['ConditionMismatch'], statement: 0, condition: { operator: 'ForAnyValue:StringLike', key: `${P}:amr` }, change: '"ForAnyValue:StringLikeIfExists"' } },
    { name: 'Null "true" on sub', trustPolicy: policy(cond({ StringEquals: { [aud]: AUD }, Null: { [sub]: 'true' } })),
      expect: { causes: ['ConditionMismatch'], statement: 0, condition: { operator: 'Null', key: sub }, change: 'remove' } },

    // the role and the provider
    { name: 'the role does not exist', trustPolicy: undefined,
      expect: { causes: ['RoleNotFound'], change: 'create role' } },
    { name: 'no OIDC provider in the account', trustPolicy: policy(stmt()), providers: [],
      expect: { causes: ['ProviderMissingInAccount'], change: `create OIDC provider "https://${P}"` } },
    { name: 'the account has the provider with a trailing slash only', trustPolicy: policy(stmt()), providers: [provider([AUD], `${P}/`)],
      expect: { causes: ['ProviderMissingInAccount'], change: `create OIDC provider "https://${P}"` } },
    { name: 'no provider and no role', trustPolicy: undefined, providers: [provider([AUD], 'oidc.other.example.com')],
      expect: { causes: ['ProviderMissingInAccount', 'RoleNotFound'], change: 'create OIDC provider' } },
    { name: 'the provider lacks the client ID sts.amazonaws.com', trustPolicy: policy(stmt()), providers: [provider(['vault'])],
      expect: { causes: ['ClientIdMissing'], change: `add client ID "${AUD}"` } },
    { name: 'client ID missing and the sub names another namespace', trustPolicy: policy(cond({ StringEquals: { [sub]: `system:serviceaccount:${ns}-prod:${name}` } })), providers: [provider(['api'])],
      expect: { causes: ['ClientIdMissing', 'SubjectMismatch'], change: `add client ID "${AUD}"` } },
  ];
}
