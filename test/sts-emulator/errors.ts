// STS errors as they appear on the wire: code, HTTP status, fault type and the exact message
// (including the double space in the verification-key message). One constructor per message, so
// the pipeline cannot drift from the wording the agent classifies.

export class StsError extends Error {
  readonly code: string;
  readonly status: number;
  readonly type: 'Sender' | 'Receiver';
  constructor(code: string, status: number, message: string, type: 'Sender' | 'Receiver' = 'Sender') {
    super(message);
    this.name = 'StsError';
    this.code = code;
    this.status = status;
    this.type = type;
  }
}

export const STS_VERIFICATION_KEY_MESSAGE =
  "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";

export const stsErrors = {
  validation: (problems: readonly string[]) => new StsError('ValidationError', 400,
    `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected: ${problems.join('; ')}`),
  invalidArn: () => new StsError('ValidationError', 400, 'Request ARN is invalid'),
  durationExceedsRoleMaximum: () => new StsError('ValidationError', 400, 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.'),
  notAJwt: () => new StsError('InvalidIdentityToken', 400, 'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)'),
  timestampFormat: () => new StsError('InvalidIdentityToken', 400, 'Timestamps in the token must be formatted as either an integer or a long integer'),
  missingClaim: (claim: string) => new StsError('InvalidIdentityToken', 400, `Missing a required claim: ${claim}`),
  noProvider: (iss: string) => new StsError('InvalidIdentityToken', 400, `No OpenIDConnect provider found in your account for ${iss}`),
  incorrectAudience: () => new StsError('InvalidIdentityToken', 400, 'Incorrect token audience'),
  verificationKey: () => new StsError('InvalidIdentityToken', 400, STS_VERIFICATION_KEY_MESSAGE),
  unsupportedAlgorithm: () => new StsError('InvalidIdentityToken', 400, 'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)'),
  invalidSignature: () => new StsError('InvalidIdentityToken', 400, STS_VERIFICATION_KEY_MESSAGE),
  expired: (now: number, exp: number) => new StsError('ExpiredTokenException', 400,
    `Token expired: current date/time ${now} must be before the expiration date/time ${exp}`),
  notYetValid: () => new StsError('InvalidIdentityToken', 400, 'The token is not yet valid'),
  accessDenied: () => new StsError('AccessDenied', 403, 'Not authorized to perform sts:AssumeRoleWithWebIdentity'),
  malformedPolicy: (detail: string) => new StsError('MalformedPolicyDocument', 400, detail),
  regionDisabled: (account: string) => new StsError('RegionDisabledException', 403,
    `STS is not activated in this region for account:${account}. Your account administrator can activate STS in this region using the IAM Console.`),
  throttling: () => new StsError('Throttling', 400, 'Rate exceeded'),
  idpCommunication: () => new StsError('IDPCommunicationError', 400,
    'The identity provider that was asked to verify the incoming identity token could not be reached. Please try again.'),
  internal: () => new StsError('InternalFailure', 500, 'The request processing has failed because of an unknown error, exception or failure.', 'Receiver'),
  invalidAction: (action: string, version: string) => new StsError('InvalidAction', 400, `Could not find operation ${action} for version ${version}`),
} as const;
