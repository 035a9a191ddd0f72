// Every check for one token and role, in order, stopping at the first failure: the token itself,
// the role ARN, the issuer's keys from here, then STS. The agent and `kube-irsa doctor` both run it.
import type { TokenClaims } from '../shared/oidc/jwt.ts';
import { REASONS, type Reason, type Verdict } from './core/reasons.ts';
import { checkTokenStatically, type StaticOutcome } from './core/verdicts.ts';
import type { IdentityDiagnosis } from './diagnosis/explain.ts';
import type { IdentityProber } from './identity-prober.ts';

export interface CheckStep {
  readonly name: string;
  readonly status: 'pass' | 'fail' | 'inconclusive' | 'skipped';
  readonly detail: string;
}

export interface TokenCheckResult {
  readonly reason: Reason;
  readonly verdict: Verdict;
  readonly detail: string;
  readonly steps: readonly CheckStep[];
  readonly claims: TokenClaims | undefined;
  readonly stsError?: { readonly code: string | undefined; readonly message: string };
  /** Undefined when STS was not called. */
  readonly stsAnswered: boolean | undefined;
  readonly stsSeconds?: number;
  /** Why STS refused, from IAM (agent/diagnosis): a cause, or a hint when IAM could not be read. */
  readonly diagnosis?: IdentityDiagnosis;
}

export interface TokenCheckInput {
  readonly token: string;
  readonly roleArn: string;
  readonly audience: string;
  readonly region: string | undefined;
  readonly nowSeconds: number;
  readonly prober: IdentityProber;
  /** The static checks of this token, when the caller already ran them (the agent does, per pod). */
  readonly statics?: StaticOutcome;
}

const STEP_NAMES = ['token is a JWT with the expected audience and not expired', 'role ARN is well-formed', 'issuer discovery, JWKS and signature', 'STS AssumeRoleWithWebIdentity'] as const;

function finish(reason: Reason, detail: string, steps: CheckStep[], claims: TokenClaims | undefined, extra: Partial<TokenCheckResult> = {}): TokenCheckResult {
  const verdict = REASONS[reason].verdict;
  for (const name of STEP_NAMES.slice(steps.length)) steps.push({ name, status: 'skipped', detail: 'not run after an earlier failure' });
  return { reason, verdict, detail, steps, claims, stsAnswered: undefined, ...extra };
}

export async function checkIdentityToken(i: TokenCheckInput): Promise<TokenCheckResult> {
  const steps: CheckStep[] = [];
  const s = i.statics ?? checkTokenStatically(i.token, i.audience, i.roleArn, i.nowSeconds);
  const claims = s.facts?.claims;
  if (!s.ok && s.reason !== 'InvalidRoleArn') {
    steps.push({ name: STEP_NAMES[0], status: 'fail', detail: s.detail });
    return finish(s.reason, s.detail, steps, claims);
  }
  steps.push({ name: STEP_NAMES[0], status: 'pass', detail: `iss=${String(claims?.iss)} sub=${String(claims?.sub)}` });
  if (!s.ok) {
    steps.push({ name: STEP_NAMES[1], status: 'fail', detail: s.detail });
    return finish(s.reason, s.detail, steps, claims);
  }
  steps.push({ name: STEP_NAMES[1], status: 'pass', detail: i.roleArn });
  const issuer = s.facts.claims.iss ?? '';
  const issuerProblem = await i.prober.checkIssuer(i.token, issuer);
  if (issuerProblem) {
    steps.push({ name: STEP_NAMES[2], status: 'fail', detail: issuerProblem.detail });
    return finish(issuerProblem.reason, issuerProblem.detail, steps, claims);
  }
  steps.push({ name: STEP_NAMES[2], status: 'pass', detail: `the JWKS of ${issuer} holds the token's key` });
  const sts = await i.prober.assume(i.roleArn, i.token, i.region);
  const verdict = REASONS[sts.reason].verdict;
  steps.push({ name: STEP_NAMES[3], status: verdict === 'healthy' ? 'pass' : verdict === 'inconclusive' ? 'inconclusive' : 'fail', detail: sts.stsError ? `${sts.stsError.code ?? 'no answer'}: ${sts.stsError.message}` : sts.detail });
  return {
    reason: sts.reason, verdict, detail: sts.detail, steps, claims, stsAnswered: sts.stsAnswered,
    ...(sts.stsError ? { stsError: sts.stsError } : {}), ...(sts.stsSeconds !== undefined ? { stsSeconds: sts.stsSeconds } : {}),
  };
}
