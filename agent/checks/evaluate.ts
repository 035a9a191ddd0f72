// The agent's decision for one pod, as a pure function of what is known about it. The caller
// gathers facts step by step: evaluate() either decides or names the one fact it needs next (the
// pod's token, then the identity's health), so every exit is here and nowhere else.
import type { ResolvedIdentity } from '../../shared/identity/resolve.ts';
import { decodeToken, type TokenClaims } from '../../shared/oidc/jwt.ts';
import type { TokenCheckResult } from '../check-token.ts';
import type { PodFinding } from '../core/pod-checks.ts';
import type { IdentityDiagnosis } from '../diagnosis/explain.ts';
import { REASONS, type Reason, type Verdict } from '../core/reasons.ts';
import { checkTokenStatically, type StaticOutcome } from '../core/verdicts.ts';
import type { TokenRead } from '../token-source.ts';
import type { NextCheck } from './schedule.ts';

/** What the agent reports for a pod. */
export interface PodVerdict {
  readonly reason: Reason;
  readonly verdict: Verdict;
  readonly detail: string;
  readonly roleArn: string | undefined;
  readonly audience: string | undefined;
  readonly claims: TokenClaims | undefined;
  readonly stsError?: { readonly code: string | undefined; readonly message: string };
  /** Why STS refused, from IAM (a cause, or a hint when IAM could not be read). */
  readonly diagnosis?: IdentityDiagnosis;
  readonly checkedAt: number;
}

/** The identity's shared result (cached, from another agent, or probed now). */
export interface HealthFact {
  readonly result: TokenCheckResult | undefined;
  readonly nextCheckAt: number;
  /** A check ran for this request (not a cached answer): a problem it confirms is news. */
  readonly ran: boolean;
}

export interface Facts {
  readonly now: number;
  /** When this pod (this uid) was first seen: the kubelet may not have mounted its token yet. */
  readonly firstSeenAt: number;
  readonly identity: ResolvedIdentity | undefined;
  readonly findings: readonly PodFinding[];
  readonly token?: TokenRead;
  readonly health?: HealthFact;
}

export interface EvaluatePolicy {
  readonly tokenWaitMs: number;
  readonly retryIntervalMs: number;
  readonly recheckIntervalMs: number;
}

export interface HealthRequest {
  readonly token: string;
  readonly roleArn: string;
  readonly audience: string;
  readonly issuer: string;
  /** The key the token was signed with: a new key means the cached health no longer applies. */
  readonly kid: string | undefined;
  /** The token's static checks as run here, so the identity check does not run them again. */
  readonly statics: StaticOutcome;
}

export type Decision =
  | { readonly kind: 'need-token'; readonly audience: string }
  | { readonly kind: 'need-health'; readonly request: HealthRequest }
  /** Nothing to report: forget any earlier verdict. */
  | { readonly kind: 'forget' }
  /** Nothing to report yet; look again then. */
  | { readonly kind: 'wait'; readonly next: NextCheck }
  | { readonly kind: 'report'; readonly verdict: PodVerdict; readonly fresh: boolean; readonly next: NextCheck };

const finding = (base: Omit<PodVerdict, 'reason' | 'verdict' | 'detail' | 'claims'>, f: PodFinding, claims?: TokenClaims): PodVerdict =>
  ({ ...base, reason: f.reason, verdict: REASONS[f.reason].verdict, detail: f.detail, claims });

export function evaluate(facts: Facts, policy: EvaluatePolicy): Decision {
  const { identity, findings, now } = facts;
  const web = identity?.mode === 'web-identity' ? identity : undefined;
  const base = { roleArn: web?.roleArn, audience: web?.audience, checkedAt: now };

  if (!web) {
    const f = findings[0];
    // nothing changes until the ServiceAccount or the mapping does, and a watch says so
    return f ? { kind: 'report', verdict: finding(base, f), fresh: true, next: { kind: 'none' } } : { kind: 'forget' };
  }
  const notMutated = findings.find((f) => f.reason === 'PodNotMutated');
  if (notMutated) return { kind: 'report', verdict: finding(base, notMutated), fresh: true, next: { kind: 'backoff', base: 'misconfigured', reason: notMutated.reason } };

  const read = facts.token;
  if (!read) return { kind: 'need-token', audience: web.audience };
  if (!read.ok && read.refused) {
    // the agent's own access failed (token guard, admission policy, RBAC, API server): inconclusive
    return { kind: 'report', verdict: { ...base, reason: 'TokenRequestRefused', verdict: 'inconclusive', detail: read.detail, claims: undefined }, fresh: true, next: { kind: 'backoff', base: 'retry', reason: 'TokenRequestRefused' } };
  }
  if (!read.ok) {
    // the kubelet mounts the token only when it sets the pod up: not a problem yet
    if (now - facts.firstSeenAt < policy.tokenWaitMs) return { kind: 'wait', next: { kind: 'at', at: now + Math.min(policy.retryIntervalMs, policy.tokenWaitMs) } };
    return { kind: 'report', verdict: { ...base, reason: 'TokenUnreadable', verdict: 'misconfigured', detail: read.detail, claims: undefined }, fresh: true, next: { kind: 'backoff', base: 'retry', reason: 'TokenUnreadable' } };
  }
  // problems of this pod's own token are never cached for the identity: other pods may be fine
  const statics = checkTokenStatically(read.token, web.audience, web.roleArn, Math.floor(now / 1000));
  if (!statics.ok && statics.reason !== 'InvalidRoleArn') {
    const verdict: PodVerdict = { ...base, reason: statics.reason, verdict: REASONS[statics.reason].verdict, detail: statics.detail, claims: statics.facts?.claims };
    return { kind: 'report', verdict, fresh: true, next: { kind: 'backoff', base: 'retry', reason: statics.reason } };
  }
  const health = facts.health;
  if (!health) {
    return {
      kind: 'need-health',
      request: { token: read.token, roleArn: web.roleArn, audience: web.audience, issuer: String(statics.facts?.claims.iss ?? ''), kid: statics.facts?.kid ?? safeKid(read.token), statics },
    };
  }
  const result = health.result;
  if (!result) return { kind: 'wait', next: { kind: 'at', at: now + policy.retryIntervalMs } };
  const podFinding = findings[0];
  const verdict: PodVerdict = podFinding
    ? finding(base, podFinding, result.claims)
    : {
      ...base, reason: result.reason, verdict: result.verdict, detail: result.detail, claims: result.claims,
      ...(result.stsError ? { stsError: result.stsError } : {}), ...(result.diagnosis ? { diagnosis: result.diagnosis } : {}),
    };
  const next: NextCheck = podFinding && REASONS[podFinding.reason].verdict === 'misconfigured'
    ? { kind: 'backoff', base: 'misconfigured', reason: podFinding.reason }
    : { kind: 'at', at: Math.min(health.nextCheckAt, now + policy.recheckIntervalMs) };
  return { kind: 'report', verdict, fresh: health.ran || podFinding !== undefined, next };
}

function safeKid(token: string): string | undefined {
  try {
    return decodeToken(token).kid;
  } catch {
    return undefined;
  }
}
