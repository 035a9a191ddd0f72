// How `doctor` prints one token's checks for people: each step, the reason, and the fix or the
// cause IAM pinpointed; and the exit code each verdict gives.
import type { TokenCheckResult } from './check-token.ts';
import { specificFix } from './core/messages.ts';
import { REASONS, type Verdict } from './core/reasons.ts';
import { diagnosisJson, diagnosisLines } from './diagnosis/report.ts';

export const EXIT_CODES: Readonly<Record<Verdict, number>> = { healthy: 0, misconfigured: 2, inconclusive: 3 };

/** The verdict's fields of doctor's JSON after its steps: STS's answer, the reason's meaning, IAM's diagnosis. */
export function verdictJson(result: TokenCheckResult): Record<string, unknown> {
  return { ...(result.stsError ? { sts: result.stsError } : {}), meaning: REASONS[result.reason].meaning, ...diagnosisJson(result.diagnosis) };
}

export function renderReport(result: TokenCheckResult, roleArn: string, audience: string): string {
  const mark = { pass: '✔', fail: '✘', inconclusive: '?', skipped: '-' } as const;
  const [, namespace = '?', serviceAccount = '?'] = /^system:serviceaccount:([^:]+):(.+)$/.exec(String(result.claims?.sub ?? '')) ?? [];
  const lines = [
    `Role:  ${roleArn}`,
    result.claims ? `Token: iss=${String(result.claims.iss)} sub=${String(result.claims.sub)} aud=${[result.claims.aud ?? []].flat().join(',')}${typeof result.claims.exp === 'number' ? ` exp=${new Date(result.claims.exp * 1000).toISOString()}` : ''}` : 'Token: (unreadable)',
    '',
    ...result.steps.map((s) => `  ${mark[s.status]} ${s.name}${s.detail ? `: ${s.detail}` : ''}`),
    '',
    `Result: ${result.reason} (${result.verdict})`,
    `  ${REASONS[result.reason].meaning}`,
  ];
  const cause = diagnosisLines(result.diagnosis);
  if (result.verdict !== 'healthy' && !result.diagnosis?.cause) {
    lines.push(`  ${specificFix({ reason: result.reason, detail: result.detail, roleArn, audience, namespace, serviceAccount, claims: result.claims })}`);
  }
  lines.push(...cause);
  return `${lines.join('\n')}\n`;
}
