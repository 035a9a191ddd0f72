// Input validation of AssumeRoleWithWebIdentity in STS's order and wording (the service model's
// constraints, camelCase member names, sensitive values omitted), then the role ARN's format.

export interface AssumeParams {
  readonly RoleArn?: string;
  readonly RoleSessionName?: string;
  readonly WebIdentityToken?: string;
  readonly ProviderId?: string;
  readonly Policy?: string;
  readonly PolicyArns: readonly string[];
  readonly DurationSeconds?: string;
}

export const SESSION_NAME_PATTERN = /^[\w+=,.@-]*$/;
// the model's pattern: tab, line feed, carriage return and printable Latin-1
// eslint-disable-next-line no-control-regex
const POLICY_PATTERN = /^[\u0009\u000A\u000D\u0020-\u00FF]+$/;

interface LengthRule {
  readonly member: string;
  readonly min: number;
  readonly max: number;
  readonly sensitive?: boolean;
  readonly required?: boolean;
}

function checkString(value: string | undefined, rule: LengthRule, problems: string[]): void {
  const shown = (v: string): string => (rule.sensitive ? 'Value' : `Value '${v}'`);
  if (value === undefined) {
    if (rule.required) problems.push(`Value null at '${rule.member}' failed to satisfy constraint: Member must not be null`);
    return;
  }
  if (value.length < rule.min) {
    problems.push(`${shown(value)} at '${rule.member}' failed to satisfy constraint: Member must have length greater than or equal to ${rule.min}`);
  } else if (value.length > rule.max) {
    problems.push(`${shown(value)} at '${rule.member}' failed to satisfy constraint: Member must have length less than or equal to ${rule.max}`);
  }
}

/** The model's constraints; returns the problems in STS's wording (empty when valid). */
export function validateParams(p: AssumeParams): string[] {
  const problems: string[] = [];
  checkString(p.RoleArn, { member: 'roleArn', min: 20, max: 2048, required: true }, problems);
  checkString(p.RoleSessionName, { member: 'roleSessionName', min: 2, max: 64, required: true }, problems);
  if (p.RoleSessionName !== undefined && !SESSION_NAME_PATTERN.test(p.RoleSessionName)) {
    problems.push(`Value '${p.RoleSessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
  }
  checkString(p.WebIdentityToken, { member: 'webIdentityToken', min: 4, max: 20000, sensitive: true, required: true }, problems);
  checkString(p.ProviderId, { member: 'providerId', min: 4, max: 2048 }, problems);
  p.PolicyArns.forEach((arn, i) => checkString(arn, { member: `policyArns.${i + 1}.member.arn`, min: 20, max: 2048 }, problems));
  if (p.PolicyArns.length > 10) {
    problems.push(`Value '[${p.PolicyArns.join(', ')}]' at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10`);
  }
  checkString(p.Policy, { member: 'policy', min: 1, max: 2048 }, problems);
  if (p.Policy !== undefined && p.Policy.length > 0 && !POLICY_PATTERN.test(p.Policy)) {
    problems.push(`Value '${p.Policy}' at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u00FF]+`);
  }
  if (p.DurationSeconds !== undefined) {
    const n = Number(p.DurationSeconds);
    if (!/^-?\d+$/.test(p.DurationSeconds)) {
      problems.push(`Value '${p.DurationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must be a number`);
    } else if (n < 900) {
      problems.push(`Value '${p.DurationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`);
    } else if (n > 43200) {
      problems.push(`Value '${p.DurationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200`);
    }
  }
  return problems;
}

// role ARNs are parsed by the product's own parser
export { parseRoleArn, type RoleArn } from '../../shared/iam/arn.ts';
