// The IAM reads kube-irsa uses to explain a refusal (GetRole, GetOpenIDConnectProvider,
// ListOpenIDConnectProviders), served from the same IamState as the STS side, on IAM's wire:
// AWS Query with Version 2010-05-08, XML in IAM's namespace, the trust policy URL-encoded as IAM
// returns AssumeRolePolicyDocument, NoSuchEntity and AccessDenied with IAM's messages. IAM is
// global and account-scoped: a caller reads its own account, with SigV4 scoped to service `iam`.
import { StsError } from './errors.ts';
import type { IssuedSession } from './caller-identity.ts';
import { escapeXml, isoSeconds } from './protocol.ts';
import type { IamState, OidcProvider, Role } from './state.ts';

export const IAM_VERSION = '2010-05-08';
export const IAM_XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';
export const IAM_ACTIONS: ReadonlySet<string> = new Set(['GetRole', 'GetOpenIDConnectProvider', 'ListOpenIDConnectProviders']);

export const iamErrors = {
  noSuchRole: (name: string) => new StsError('NoSuchEntity', 404, `The role with name ${name} cannot be found.`),
  noSuchProvider: (arn: string) => new StsError('NoSuchEntity', 404, `OpenIDConnect Provider not found for arn ${arn}`),
  accessDenied: (caller: string, action: string, resource: string) => new StsError('AccessDenied', 403,
    `User: ${caller} is not authorized to perform: iam:${action} on resource: ${resource} because no identity-based policy allows the iam:${action} action`),
  validation: (detail: string) => new StsError('ValidationError', 400, detail),
} as const;

export interface IamCall {
  readonly action: string;
  readonly params: URLSearchParams;
  readonly caller: IssuedSession;
}

export interface IamAnswer {
  readonly xml: string;
  /** The IAM resource read, for the request log (the role ARN for GetRole). */
  readonly resource: string | undefined;
}

const members = (values: readonly string[], indent: string): string => values.map((v) => `\n${indent}<member>${escapeXml(v)}</member>`).join('');

/** Whether the caller may use the IAM reads: a user's own flag, or the flag of the role a session is of. */
export function mayReadIam(state: IamState, caller: IssuedSession): boolean {
  const user = state.findUserByAccessKey(caller.accessKeyId);
  if (user) return user.allowIamReads;
  const role = /^arn:[\w-]+:sts::(\d{12}):assumed-role\/([^/]+)\//.exec(caller.arn);
  return role ? state.findRole(role[1] ?? '', role[2] ?? '')?.allowIamReads === true : false;
}

function envelope(action: string, result: string, requestId: string): string {
  return `<${action}Response xmlns="${IAM_XMLNS}">
  <${action}Result>${result}
  </${action}Result>
  <ResponseMetadata>
    <RequestId>${requestId}</RequestId>
  </ResponseMetadata>
</${action}Response>
`;
}

function roleXml(role: Role): string {
  return `
    <Role>
      <Path>${escapeXml(role.path)}</Path>
      <AssumeRolePolicyDocument>${escapeXml(encodeURIComponent(role.trustPolicyDocument))}</AssumeRolePolicyDocument>
      <MaxSessionDuration>${role.maxSessionDuration}</MaxSessionDuration>
      <RoleId>${role.uniqueId}</RoleId>
      <RoleLastUsed/>
      <RoleName>${escapeXml(role.name)}</RoleName>
      <Arn>${escapeXml(role.arn)}</Arn>
      <CreateDate>${isoSeconds(role.createDate)}</CreateDate>
    </Role>`;
}

function providerXml(p: OidcProvider): string {
  return `
    <ThumbprintList>${members(p.thumbprints, '      ')}
    </ThumbprintList>
    <CreateDate>${isoSeconds(p.createDate)}</CreateDate>
    <ClientIDList>${members(p.clientIds, '      ')}
    </ClientIDList>
    <Url>${escapeXml(p.url)}</Url>`;
}

/** Answers one IAM read for an authenticated caller, or throws the error IAM would send. */
export function handleIam(state: IamState, call: IamCall, requestId: string): IamAnswer {
  const { caller, params } = call;
  const account = caller.account;
  const partition = state.partitionOf(account) ?? 'aws';
  switch (call.action) {
    case 'GetRole': {
      const name = params.get('RoleName');
      if (!name) throw iamErrors.validation("1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null");
      if (!mayReadIam(state, caller)) throw iamErrors.accessDenied(caller.arn, 'GetRole', `role ${name}`);
      const role = state.findRole(account, name);
      if (!role) throw iamErrors.noSuchRole(name);
      return { xml: envelope('GetRole', roleXml(role), requestId), resource: role.arn };
    }
    case 'GetOpenIDConnectProvider': {
      const arn = params.get('OpenIDConnectProviderArn');
      if (!arn) throw iamErrors.validation("1 validation error detected: Value null at 'openIDConnectProviderArn' failed to satisfy constraint: Member must not be null");
      if (!mayReadIam(state, caller)) throw iamErrors.accessDenied(caller.arn, 'GetOpenIDConnectProvider', arn);
      const m = /^arn:[\w-]+:iam::(\d{12}):oidc-provider\/(.+)$/.exec(arn);
      if (!m) throw iamErrors.validation(`ARN ${arn} is not valid.`);
      // another account's provider is not the caller's to read
      if (m[1] !== account) throw iamErrors.accessDenied(caller.arn, 'GetOpenIDConnectProvider', arn);
      const provider = state.oidcProviders(account).find((p) => p.url === m[2]);
      if (!provider) throw iamErrors.noSuchProvider(arn);
      return { xml: envelope('GetOpenIDConnectProvider', providerXml(provider), requestId), resource: arn };
    }
    case 'ListOpenIDConnectProviders': {
      if (!mayReadIam(state, caller)) throw iamErrors.accessDenied(caller.arn, 'ListOpenIDConnectProviders', `arn:${partition}:iam::${account}:oidc-provider/*`);
      const list = state.oidcProviders(account).map((p) => `\n      <member>\n        <Arn>${escapeXml(p.arn)}</Arn>\n      </member>`).join('');
      return { xml: envelope('ListOpenIDConnectProviders', `\n    <OpenIDConnectProviderList>${list}\n    </OpenIDConnectProviderList>`, requestId), resource: undefined };
    }
    default:
      throw new StsError('InvalidAction', 400, `Could not find operation ${call.action} for version ${IAM_VERSION}`);
  }
}
