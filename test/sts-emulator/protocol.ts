// The AWS Query protocol of STS: form-encoded POST bodies or GET query strings in, XML out (or the
// legacy JSON shape when the client sends `Accept: application/json`).
import type { StsError } from './errors.ts';
import type { AssumeResult } from './pipeline.ts';
import type { AssumeParams } from './validation.ts';

export const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const API_VERSION = '2011-06-15';

export interface QueryRequest {
  readonly action: string | undefined;
  readonly version: string | undefined;
  readonly params: AssumeParams;
}

/** The first value wins for repeated parameters, as on the real front end. */
export function parseQuery(text: string): QueryRequest {
  const form = new URLSearchParams(text);
  const first = (name: string): string | undefined => form.get(name) ?? undefined;
  const policyArns: string[] = [];
  for (let i = 1; form.has(`PolicyArns.member.${i}.arn`); i++) policyArns.push(form.get(`PolicyArns.member.${i}.arn`) ?? '');
  return {
    action: first('Action'),
    version: first('Version'),
    params: {
      RoleArn: first('RoleArn'),
      RoleSessionName: first('RoleSessionName'),
      WebIdentityToken: first('WebIdentityToken'),
      ProviderId: first('ProviderId'),
      Policy: first('Policy'),
      PolicyArns: policyArns,
      DurationSeconds: first('DurationSeconds'),
    },
  };
}

export const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** ISO-8601 UTC with second precision and a Z, as STS writes Expiration. */
export const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function renderSuccessXml(r: AssumeResult, requestId: string): string {
  return `<AssumeRoleWithWebIdentityResponse xmlns="${XMLNS}">
  <AssumeRoleWithWebIdentityResult>
    <Audience>${escapeXml(r.audience)}</Audience>
    <AssumedRoleUser>
      <AssumedRoleId>${escapeXml(r.assumedRoleUser.assumedRoleId)}</AssumedRoleId>
      <Arn>${escapeXml(r.assumedRoleUser.arn)}</Arn>
    </AssumedRoleUser>
    <Provider>${escapeXml(r.provider)}</Provider>
    <Credentials>
      <AccessKeyId>${r.credentials.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${escapeXml(r.credentials.secretAccessKey)}</SecretAccessKey>
      <SessionToken>${escapeXml(r.credentials.sessionToken)}</SessionToken>
      <Expiration>${isoSeconds(r.credentials.expiration)}</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>${escapeXml(r.subject)}</SubjectFromWebIdentityToken>${
      r.packedPolicySize === undefined ? '' : `\n    <PackedPolicySize>${r.packedPolicySize}</PackedPolicySize>`}
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`;
}

export function renderSuccessJson(r: AssumeResult, requestId: string): string {
  return JSON.stringify({
    AssumeRoleWithWebIdentityResponse: {
      AssumeRoleWithWebIdentityResult: {
        Audience: r.audience,
        AssumedRoleUser: { AssumedRoleId: r.assumedRoleUser.assumedRoleId, Arn: r.assumedRoleUser.arn },
        Provider: r.provider,
        // the legacy JSON mode writes Expiration as epoch seconds
        Credentials: {
          AccessKeyId: r.credentials.accessKeyId,
          SecretAccessKey: r.credentials.secretAccessKey,
          SessionToken: r.credentials.sessionToken,
          Expiration: Math.floor(r.credentials.expiration.getTime() / 1000),
        },
        SubjectFromWebIdentityToken: r.subject,
        ...(r.packedPolicySize === undefined ? {} : { PackedPolicySize: r.packedPolicySize }),
      },
      ResponseMetadata: { RequestId: requestId },
    },
  });
}

/** `xmlns` is the service's namespace: STS's, or IAM's for the IAM reads. */
export function renderErrorXml(e: StsError, requestId: string, xmlns = XMLNS): string {
  // InvalidAction comes from the Query front end, which uses the AWSFault namespace
  const ns = e.code === 'InvalidAction' ? 'http://webservices.amazon.com/AWSFault/2005-15-09' : xmlns;
  return `<ErrorResponse xmlns="${ns}">
  <Error>
    <Type>${e.type}</Type>
    <Code>${e.code}</Code>
    <Message>${escapeXml(e.message)}</Message>
  </Error>
  <RequestId>${requestId}</RequestId>
</ErrorResponse>
`;
}

export function renderErrorJson(e: StsError, requestId: string): string {
  return JSON.stringify({ Error: { Code: e.code, Message: e.message, Type: e.type }, RequestId: requestId });
}
