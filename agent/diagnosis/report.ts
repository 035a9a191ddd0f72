// How `kube-irsa doctor` shows a diagnosis: for people, the cause, each finding with its changed
// line and the corrected document; for tools (--output json), the whole corrected trust policy as
// a JSON object. Pure.
import { CAUSES } from '../../shared/iam/diagnose.ts';
import type { IdentityDiagnosis } from './explain.ts';

/** Lines for the text report (empty without a diagnosis). */
export function diagnosisLines(d: IdentityDiagnosis | undefined): string[] {
  if (!d) return [];
  if (d.hint) return [`  ${d.hint}`];
  if (!d.cause) return [];
  const lines = [`Cause: ${d.cause}`, `  ${CAUSES[d.cause].meaning}`];
  for (const f of d.findings ?? []) lines.push(`  - ${f.cause}: ${f.message}`, `    change: ${f.change}`);
  if (d.correctedProvider) lines.push(`Corrected OIDC provider: https://${d.correctedProvider.url} with client IDs ${d.correctedProvider.clientIds.join(', ')}`);
  if (d.correctedTrustPolicy) {
    lines.push('Corrected trust policy:');
    lines.push(...JSON.stringify(JSON.parse(d.correctedTrustPolicy), null, 2).split('\n').map((l) => `  ${l}`));
  }
  return lines;
}

/** The fields `doctor --output json` adds: the cause, and the diagnosis with the corrected policy as an object. */
export function diagnosisJson(d: IdentityDiagnosis | undefined): Record<string, unknown> {
  if (!d) return {};
  return {
    ...(d.cause ? { cause: d.cause } : {}),
    diagnosis: {
      ...d,
      ...(d.correctedTrustPolicy ? { correctedTrustPolicy: JSON.parse(d.correctedTrustPolicy) as unknown } : {}),
    },
  };
}
