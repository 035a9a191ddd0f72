// From what IAM said (or why it could not be read) to what the agent reports next to a reason:
// a stable cause with the one changed line and the whole corrected document, or, when IAM could
// not be read, one hint naming the permission that would pinpoint the cause. Pure.
import { providerFor } from '../../shared/iam/arn.ts';
import { diagnose, type Cause, type ProviderFacts } from '../../shared/iam/diagnose.ts';
import type { TokenClaims } from '../../shared/oidc/jwt.ts';
import { audiencesOf } from '../../shared/oidc/jwt.ts';
import type { Reason } from '../core/reasons.ts';

/** The reasons STS gives for a refusal that IAM can explain. */
export const EXPLAINED_REASONS: ReadonlySet<Reason> = new Set<Reason>(['TrustPolicyDenied', 'OIDCProviderNotFound', 'IncorrectAudience']);

export interface DiagnosisFinding {
  readonly cause: Cause;
  /** e.g. `Statement[1] (Sid "App")`. */
  readonly statement?: string;
  readonly message: string;
  /** The one changed line or fragment. */
  readonly change: string;
}

/** What the agent reports about a refusal besides its reason (Event, IRSACheck status, doctor). */
export interface IdentityDiagnosis {
  readonly roleArn: string;
  /** The reason it explains; it applies to a result with that reason only. */
  readonly reason: string;
  /** When IAM was read (or found unreadable): the cache TTL runs from here, fleet-wide. */
  readonly readAt: string;
  readonly cause?: Cause;
  readonly findings?: readonly DiagnosisFinding[];
  /** The whole corrected trust policy, JSON. */
  readonly correctedTrustPolicy?: string;
  readonly correctedProvider?: { readonly url: string; readonly clientIds: readonly string[] };
  /** IAM could not be read: the permission that would pinpoint the cause. */
  readonly hint?: string;
}

/** What IAM returned for a role: its trust policy (undefined: NoSuchEntity) and the account's providers as far as read. */
export interface IamFacts {
  readonly trustPolicy: string | undefined;
  readonly providers: readonly ProviderFacts[];
}

/** Why IAM gave no facts: a failed read, or a role in an account the agent's credentials do not read. */
export type IamUnavailable =
  | { readonly kind: 'denied' | 'unreachable' | 'no-credentials'; readonly action: string; readonly resource: string; readonly code: string }
  | { readonly kind: 'other-account'; readonly ownAccount: string; readonly roleAccount: string };

const MAX_FINDINGS = 5;

export function explainFromIam(reason: Reason, roleArn: string, claims: TokenClaims, facts: IamFacts, readAt: string): IdentityDiagnosis {
  const base = { roleArn, reason, readAt };
  let d;
  try {
    d = diagnose({ roleArn, trustPolicy: facts.trustPolicy, providers: facts.providers, token: { iss: claims.iss ?? '', sub: claims.sub ?? '', aud: audiencesOf(claims) } });
  } catch {
    return base;
  }
  if (!d.cause) return base;
  return {
    ...base, cause: d.cause,
    findings: d.findings.slice(0, MAX_FINDINGS).map((f) => ({
      cause: f.cause, message: f.message, change: f.change,
      ...(f.statement ? { statement: `Statement[${f.statement.index}]${f.statement.sid === undefined ? '' : ` (Sid ${JSON.stringify(f.statement.sid)})`}` } : {}),
    })),
    ...(d.correctedTrustPolicy ? { correctedTrustPolicy: JSON.stringify(d.correctedTrustPolicy) } : {}),
    ...(d.correctedProvider ? { correctedProvider: { url: d.correctedProvider.url, clientIds: [...d.correctedProvider.clientIds] } } : {}),
  };
}

/** The IAM read that explains a reason first, and its resource (the permission a hint names). */
export function firstRead(reason: Reason, roleArn: string, issuer: string): { action: string; resource: string } {
  const provider = providerFor(issuer, roleArn);
  if (reason === 'OIDCProviderNotFound') return { action: 'iam:ListOpenIDConnectProviders', resource: provider.arn ?? roleArn };
  if (reason === 'IncorrectAudience') return { action: 'iam:GetOpenIDConnectProvider', resource: provider.arn ?? roleArn };
  return { action: 'iam:GetRole', resource: roleArn };
}

/** One line: why no cause is named, and which permission would name it. */
export function hintFor(unavailable: IamUnavailable, roleArn: string): string {
  switch (unavailable.kind) {
    case 'other-account':
      return `Cause not pinpointed: role ${roleArn} is in account ${unavailable.roleAccount}, the agent's AWS credentials are in ${unavailable.ownAccount}; iam:GetRole on ${roleArn} from that account would pinpoint it.`;
    case 'denied':
      return `Cause not pinpointed: IAM refused the agent's read (${unavailable.code}); allowing ${unavailable.action} on ${unavailable.resource} would pinpoint it (docs/security.md).`;
    case 'no-credentials':
      return `Cause not pinpointed: the agent has no AWS credentials to read IAM; ${unavailable.action} on ${unavailable.resource} would pinpoint it (docs/security.md).`;
    case 'unreachable':
      return `Cause not pinpointed: IAM could not be read (${unavailable.code}); ${unavailable.action} on ${unavailable.resource} would pinpoint it.`;
  }
}

export function unavailableDiagnosis(reason: Reason, roleArn: string, unavailable: IamUnavailable, readAt: string): IdentityDiagnosis {
  return { roleArn, reason, readAt, hint: hintFor(unavailable, roleArn) };
}

/** The diagnosis when it explains this reason, for this role. */
export function diagnosisFor(d: IdentityDiagnosis | undefined, reason: string, roleArn: string | undefined): IdentityDiagnosis | undefined {
  return d && d.reason === reason && d.roleArn === roleArn ? d : undefined;
}
