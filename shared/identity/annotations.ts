// ServiceAccount and Pod annotations under the annotation prefix (default `eks.amazonaws.com`),
// parsed the way amazon-eks-pod-identity-webhook parses them (Go's ParseBool/ParseInt, expirations
// raised to 600 s), but every value that is ignored or changed yields a warning a person can read.

export const ANNOTATION_SUFFIX = {
  roleArn: 'role-arn',
  audience: 'audience',
  stsRegionalEndpoints: 'sts-regional-endpoints',
  tokenExpiration: 'token-expiration',
  skipContainers: 'skip-containers',
  /** kube-irsa: opt a ServiceAccount in or out of AWS_ROLE_SESSION_NAME injection. */
  roleSessionName: 'role-session-name',
} as const;

/** The API server refuses projected tokens shorter than 10 minutes. */
export const MIN_TOKEN_EXPIRATION_SECONDS = 600;
/** The API server's upper bound for a projected token's expirationSeconds (2^32). */
export const MAX_TOKEN_EXPIRATION_SECONDS = 4_294_967_296;
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 86_400;

// The reference's check; a mismatch is only a warning there, and here too (the pod is admitted).
const ROLE_ARN_PATTERN = /^arn:aws[a-z0-9-]*:iam::\d{12}:role\/[\w\-/.@+=,]+$/;

export function isWellFormedRoleArn(arn: string): boolean {
  return ROLE_ARN_PATTERN.test(arn);
}

/** Go's strconv.ParseBool. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** Go's strconv.ParseInt(s, 10, 64): optional sign, digits only, no spaces or units. */
export function parseGoInt(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Keeps an expiration inside what the API server accepts, saying so when it had to change it. */
export function clampTokenExpiration(seconds: number, where: string, warnings: string[]): number {
  if (seconds < MIN_TOKEN_EXPIRATION_SECONDS) {
    warnings.push(`${where}: ${seconds} s is below the minimum token expiration; using ${MIN_TOKEN_EXPIRATION_SECONDS} s`);
    return MIN_TOKEN_EXPIRATION_SECONDS;
  }
  if (seconds > MAX_TOKEN_EXPIRATION_SECONDS) {
    warnings.push(`${where}: ${seconds} s is above the maximum token expiration; using ${MAX_TOKEN_EXPIRATION_SECONDS} s`);
    return MAX_TOKEN_EXPIRATION_SECONDS;
  }
  return seconds;
}

export interface IdentityDefaults {
  /** --annotation-prefix */
  readonly annotationPrefix: string;
  /** --token-audience */
  readonly audience: string;
  /** --sts-regional-endpoint */
  readonly stsRegionalEndpoints: boolean;
  /** --token-expiration, already clamped */
  readonly tokenExpirationSeconds: number;
  /** --inject-role-session-name (kube-irsa) */
  readonly injectRoleSessionName: boolean;
  /** --compose-role-arn: a bare role name or path becomes a full ARN in this partition and account. */
  readonly composeRoleArn?: { readonly partition: string; readonly accountId: string };
}

/** What a ServiceAccount's annotations say, with defaults filled in from the flags. */
export interface ServiceAccountIdentity {
  /** Undefined when the ServiceAccount has no (or an empty) role annotation. */
  readonly roleArn: string | undefined;
  readonly audience: string;
  readonly stsRegionalEndpoints: boolean;
  readonly tokenExpirationSeconds: number;
  readonly roleSessionName: boolean;
  /** Problems found in the annotations, for admission warnings and logs. */
  readonly warnings: readonly string[];
}

export function annotationKey(prefix: string, suffix: string): string {
  return `${prefix}/${suffix}`;
}

export function parseServiceAccountAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  defaults: IdentityDefaults,
  saName = 'the ServiceAccount',
): ServiceAccountIdentity {
  const a = annotations ?? {};
  const key = (s: string): string => annotationKey(defaults.annotationPrefix, s);
  const warnings: string[] = [];

  let roleArn = a[key(ANNOTATION_SUFFIX.roleArn)] || undefined;
  if (roleArn !== undefined && defaults.composeRoleArn && !roleArn.includes('arn:')) {
    const { partition, accountId } = defaults.composeRoleArn;
    roleArn = `arn:${partition}:iam::${accountId}:role/${roleArn.replace(/^\//, '')}`;
  }
  if (roleArn !== undefined && !isWellFormedRoleArn(roleArn)) {
    warnings.push(`${saName}: annotation ${key(ANNOTATION_SUFFIX.roleArn)} "${roleArn}" is not a well-formed IAM role ARN (arn:<partition>:iam::<12-digit account>:role/<name>); STS will reject it`);
  }

  const audienceText = a[key(ANNOTATION_SUFFIX.audience)];
  const audience = audienceText === undefined || audienceText === '' ? defaults.audience : audienceText;

  /** A Go-bool annotation; anything else keeps the default, with a warning. */
  const boolAnnotation = (suffix: string, fallback: boolean): boolean => {
    const text = a[key(suffix)];
    if (text === undefined) return fallback;
    const parsed = parseGoBool(text);
    if (parsed === undefined) warnings.push(`${saName}: annotation ${key(suffix)} "${text}" is not true or false; using ${String(fallback)}`);
    return parsed ?? fallback;
  };
  const stsRegionalEndpoints = boolAnnotation(ANNOTATION_SUFFIX.stsRegionalEndpoints, defaults.stsRegionalEndpoints);

  let tokenExpirationSeconds = defaults.tokenExpirationSeconds;
  const expText = a[key(ANNOTATION_SUFFIX.tokenExpiration)];
  if (expText !== undefined) {
    const parsed = parseGoInt(expText);
    if (parsed === undefined) warnings.push(`${saName}: annotation ${key(ANNOTATION_SUFFIX.tokenExpiration)} "${expText}" is not a whole number of seconds; using ${defaults.tokenExpirationSeconds}`);
    else tokenExpirationSeconds = clampTokenExpiration(parsed, `${saName}: annotation ${key(ANNOTATION_SUFFIX.tokenExpiration)}`, warnings);
  }

  const roleSessionName = boolAnnotation(ANNOTATION_SUFFIX.roleSessionName, defaults.injectRoleSessionName);

  return { roleArn, audience, stsRegionalEndpoints, tokenExpirationSeconds, roleSessionName, warnings };
}

/** Only the annotations under the prefix matter; keeping just those keeps a large cache small. */
export function annotationsUnderPrefix(annotations: Readonly<Record<string, string>> | undefined, prefix: string): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let out: Record<string, string> | undefined;
  const p = `${prefix}/`;
  for (const [k, v] of Object.entries(annotations)) {
    if (k.startsWith(p)) (out ??= {})[k] = v;
  }
  return out;
}
