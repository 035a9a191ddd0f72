// Event messages a developer can act on: what failed, for which role, what the token claims (never
// the token), and the specific fix. No request IDs or times, so repeats aggregate on the server.
import type { TokenClaims } from '../../shared/oidc/jwt.ts';
import { providerFor } from '../../shared/iam/arn.ts';
import type { IdentityDiagnosis } from '../diagnosis/explain.ts';
import { REASONS, type Reason } from './reasons.ts';

export interface MessageInput {
  readonly reason: Reason;
  readonly detail: string;
  readonly roleArn: string | undefined;
  readonly audience: string | undefined;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly claims: TokenClaims | undefined;
  /** STS's own code and message, when it answered. */
  readonly stsError?: { readonly code: string | undefined; readonly message: string };
  /** For Healthy: whether it was broken before (a recovery) or is verified for the first time. */
  readonly recovered?: boolean;
  /** Why STS refused, from IAM: its cause replaces the general fix; its hint is added as one line. */
  readonly diagnosis?: IdentityDiagnosis;
}

/** Event notes are limited to 1024 bytes. */
export const MAX_MESSAGE_BYTES = 1024;

export function truncateBytes(text: string, max = MAX_MESSAGE_BYTES): string {
  if (Buffer.byteLength(text) <= max) return text;
  let cut = text;
  while (Buffer.byteLength(cut) > max - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

function tokenSummary(claims: TokenClaims | undefined): string {
  if (!claims) return '';
  const aud = Array.isArray(claims.aud) ? claims.aud.join(',') : (claims.aud ?? '(none)');
  return ` Token: iss=${claims.iss ?? '(none)'} aud=${aud} sub=${claims.sub ?? '(none)'}.`;
}

export function specificFix(i: MessageInput): string {
  const sub = `system:serviceaccount:${i.namespace}:${i.serviceAccount}`;
  const iss = i.claims?.iss;
  const provider = iss && i.roleArn ? providerFor(iss, i.roleArn) : undefined;
  const roleName = i.roleArn?.split('/').pop() ?? 'the role';
  switch (i.reason) {
    case 'TrustPolicyDenied':
      return provider
        ? `Fix: the trust policy of role ${roleName} must allow Principal.Federated ${provider.arn ?? provider.url} with action sts:AssumeRoleWithWebIdentity and conditions "${provider.url}:sub" = "${sub}" (StringEquals, or StringLike for wildcards) and "${provider.url}:aud" = "${i.audience ?? 'sts.amazonaws.com'}"; also check that the role exists.`
        : `Fix: the role's trust policy must allow <provider>:sub = "${sub}".`;
    case 'OIDCProviderNotFound':
      return provider ? `Fix: create an IAM OIDC provider with URL ${iss} in the account of ${i.roleArn}, client ID ${i.audience ?? 'sts.amazonaws.com'}.` : REASONS.OIDCProviderNotFound.fix;
    case 'IncorrectAudience':
      return provider ? `Fix: add "${i.audience ?? 'sts.amazonaws.com'}" to the client IDs of the IAM OIDC provider ${provider.arn ?? provider.url}.` : REASONS.IncorrectAudience.fix;
    case 'PodNotMutated':
      return 'Fix: make sure the kube-irsa webhook runs and selects this pod, then recreate the pod.';
    default:
      return `Fix: ${REASONS[i.reason].fix}`;
  }
}

/** The cause IAM pinpointed, what is wrong (cut first when space runs out) and its one changed line, in place of the general fix. */
function causeFix(d: IdentityDiagnosis, room: number): string | undefined {
  const first = d.findings?.[0];
  if (!d.cause || !first) return undefined;
  const more = (d.findings?.length ?? 1) - 1;
  const fix = ` Fix: ${first.change}${more > 0 ? ` (and ${more} more; kube-irsa doctor --output json gives the corrected policy)` : ''}`;
  const lead = `Cause: ${d.cause}.`;
  const space = room - Buffer.byteLength(lead + fix) - 1;
  const what = space >= 40 ? ` ${truncateBytes(first.message, space)}` : '';
  return `${lead}${what}${fix}`;
}

export function eventMessage(i: MessageInput): string {
  const role = i.roleArn ? ` role ${i.roleArn}` : '';
  const sts = i.stsError ? ` STS said ${i.stsError.code ?? 'nothing'}: ${i.stsError.message}.` : '';
  const head = i.reason === 'Healthy'
    ? `AWS identity of ServiceAccount ${i.namespace}/${i.serviceAccount} ${i.recovered ? 'works again' : 'verified'}:${role} can be assumed.`
    : `AWS identity check failed for ServiceAccount ${i.namespace}/${i.serviceAccount}${role ? ` (${role.trim()})` : ''}: ${i.detail}.${sts}`;
  const d = i.diagnosis && i.diagnosis.reason === i.reason && i.diagnosis.roleArn === i.roleArn ? i.diagnosis : undefined;
  if (d?.cause) {
    // the changed line matters most, then what is wrong, then the token summary (the cause quotes the sub anyway)
    const withSummary = `${head}${tokenSummary(i.claims)}`;
    const full = causeFix(d, Number.MAX_SAFE_INTEGER);
    const lead = full !== undefined && Buffer.byteLength(`${withSummary} ${full}`) <= MAX_MESSAGE_BYTES ? withSummary : head;
    const cause = causeFix(d, MAX_MESSAGE_BYTES - Buffer.byteLength(lead) - 1);
    if (cause) return truncateBytes(`${lead} ${cause}`);
  }
  const message = `${head}${tokenSummary(i.claims)}${i.reason === 'Healthy' ? '' : ` ${specificFix(i)}`}`;
  if (!d?.hint) return truncateBytes(message);
  // today's message, unchanged as far as it fits, and the hint as its own line
  return `${truncateBytes(message, MAX_MESSAGE_BYTES - Buffer.byteLength(d.hint) - 1)}\n${d.hint}`;
}
