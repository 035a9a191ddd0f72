// AssumeRoleWithWebIdentity, step by step in STS's order: input validation, the role ARN, the
// region, the JWT, the OIDC provider in the role's account, the audience, the issuer's keys and the
// signature, the time claims, the trust policy, the session limits; then credentials shaped like
// real ones. Each failure is the STS error a real call would get.
import { randomBytes } from 'node:crypto';
import { newAccessKeyId } from './access-keys.ts';
import type { IssuerKeys } from '../../shared/oidc/issuer-keys.ts';
import { audiencesOf, checkSignature, decodeToken, TokenFormatError, type DecodedToken } from '../../shared/oidc/jwt.ts';
import { StsError, stsErrors } from './errors.ts';
import type { IamState } from './state.ts';
import { evaluateTrustPolicy } from '../../shared/iam/trust-policy.ts';
import { parseRoleArn, validateParams, type AssumeParams } from './validation.ts';

export const ACTION = 'sts:AssumeRoleWithWebIdentity';

/** Faults a test can switch on; the forced errors apply to every role unless `roleArns` narrows them. */
export interface FaultSettings {
  readonly idpCommunicationError?: boolean;
  readonly verificationKeyFailure?: boolean;
  readonly internalError?: boolean;
  readonly roleArns?: readonly string[];
}

export interface PipelineContext {
  readonly state: IamState;
  readonly region: string;
  readonly disabledRegions: ReadonlySet<string>;
  readonly clockSkewSeconds: number;
  /** Current time in epoch seconds (the emulator's clock, which tests may shift). */
  readonly nowSeconds: number;
  readonly faults: FaultSettings;
  fetchIssuerKeys(issuer: string): Promise<IssuerKeys>;
}

export interface AssumeResult {
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken: string;
    readonly expiration: Date;
  };
  readonly assumedRoleUser: { readonly arn: string; readonly assumedRoleId: string };
  readonly provider: string;
  readonly audience: string;
  readonly subject: string;
  readonly packedPolicySize: number | undefined;
}


function decode(token: string): DecodedToken {
  try {
    return decodeToken(token);
  } catch (err) {
    if (err instanceof TokenFormatError) throw stsErrors.notAJwt();
    throw err;
  }
}

function forced(faults: FaultSettings, roleArn: string, which: keyof Omit<FaultSettings, 'roleArns'>): boolean {
  return faults[which] === true && (faults.roleArns === undefined || faults.roleArns.includes(roleArn));
}

function checkSessionPolicy(policy: string | undefined): number | undefined {
  if (policy === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(policy);
  } catch {
    throw stsErrors.malformedPolicy('Syntax errors in policy.');
  }
  const statements = (doc as { Statement?: unknown } | null)?.Statement;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || statements === undefined) {
    throw stsErrors.malformedPolicy('Syntax errors in policy.');
  }
  // real STS reports how much of the packed allowance session policies use, as a percentage
  return Math.max(1, Math.ceil((policy.length / 2048) * 100 / 4));
}

export async function assumeRoleWithWebIdentity(params: AssumeParams, ctx: PipelineContext): Promise<AssumeResult> {
  const problems = validateParams(params);
  if (problems.length > 0) throw stsErrors.validation(problems);
  const roleArn = params.RoleArn ?? '';
  const arn = parseRoleArn(roleArn);
  if (!arn) throw stsErrors.invalidArn();
  if (ctx.disabledRegions.has(ctx.region)) throw stsErrors.regionDisabled(arn.account);

  const token = decode(params.WebIdentityToken ?? '');
  if (!token.alg || token.alg === 'none' || token.alg.startsWith('HS')) throw stsErrors.notAJwt();
  const { claims } = token;
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    const v = claims[claim];
    if (v !== undefined && !Number.isInteger(v)) throw stsErrors.timestampFormat();
  }
  if (typeof claims.iss !== 'string' || claims.iss === '') throw stsErrors.missingClaim('iss');
  if (claims.exp === undefined) throw stsErrors.missingClaim('exp');
  if (typeof claims.sub !== 'string' || claims.sub === '') throw stsErrors.missingClaim('sub');

  const provider = ctx.state.findOidcProvider(arn.account, claims.iss);
  if (!provider) throw stsErrors.noProvider(claims.iss);

  const audiences = audiencesOf(claims);
  if (audiences.length === 0) throw stsErrors.missingClaim('aud');
  const audience = audiences.find((a) => provider.clientIds.includes(a));
  if (audience === undefined) throw stsErrors.incorrectAudience();

  if (forced(ctx.faults, roleArn, 'idpCommunicationError')) throw stsErrors.idpCommunication();
  if (forced(ctx.faults, roleArn, 'verificationKeyFailure')) throw stsErrors.verificationKey();
  let keys: IssuerKeys;
  try {
    keys = await ctx.fetchIssuerKeys(claims.iss);
  } catch {
    throw stsErrors.verificationKey();
  }
  const signature = await checkSignature(params.WebIdentityToken ?? '', keys.jwks);
  if (signature === 'unsupported-algorithm') throw stsErrors.unsupportedAlgorithm();
  if (signature === 'key-not-found') throw stsErrors.verificationKey();
  if (signature === 'invalid-signature') throw stsErrors.invalidSignature();

  if (claims.exp <= ctx.nowSeconds - ctx.clockSkewSeconds) throw stsErrors.expired(ctx.nowSeconds, claims.exp);
  if (claims.nbf !== undefined && claims.nbf > ctx.nowSeconds + ctx.clockSkewSeconds) throw stsErrors.notYetValid();

  const role = ctx.state.findRole(arn.account, arn.name);
  if (!role) throw stsErrors.accessDenied();
  const context: Record<string, string[]> = {
    [`${provider.url}:sub`]: [claims.sub],
    [`${provider.url}:aud`]: [audience],
    'sts:RoleSessionName': [params.RoleSessionName ?? ''],
  };
  const amr = claims.amr;
  if (Array.isArray(amr)) context[`${provider.url}:amr`] = amr.map(String);
  else if (typeof amr === 'string') context[`${provider.url}:amr`] = [amr];
  const evaluation = evaluateTrustPolicy(role.trustPolicy, { federatedPrincipal: provider.arn, action: ACTION, context });
  if (evaluation.decision !== 'Allow') throw stsErrors.accessDenied();

  const duration = params.DurationSeconds === undefined ? 3600 : Number(params.DurationSeconds);
  if (duration > role.maxSessionDuration) throw stsErrors.durationExceedsRoleMaximum();
  const packedPolicySize = checkSessionPolicy(params.Policy);
  if (forced(ctx.faults, roleArn, 'internalError')) throw stsErrors.internal();

  const session = params.RoleSessionName ?? '';
  return {
    credentials: {
      accessKeyId: newAccessKeyId('ASIA'),
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(240).toString('base64')}`,
      expiration: new Date((ctx.nowSeconds + duration) * 1000),
    },
    // the assumed-role ARN drops the role's path
    assumedRoleUser: { arn: `arn:${arn.partition}:sts::${arn.account}:assumed-role/${role.name}/${session}`, assumedRoleId: `${role.uniqueId}:${session}` },
    provider: provider.arn,
    audience,
    subject: claims.sub,
    packedPolicySize,
  };
}

export { StsError };
