// The IAM names a web identity involves: role ARNs, and OIDC providers, which IAM names by the
// issuer without its scheme (the provider ARN's resource and the condition-key prefix).

export interface RoleArn {
  readonly partition: string;
  readonly account: string;
  /** Path including leading and trailing slash, `/` when none. */
  readonly path: string;
  readonly name: string;
  readonly arn: string;
}

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::(\d{12}):role(\/(?:[\x21-\x7e]+\/)?)([\w+=,.@-]{1,64})$/;

/** Parses `arn:<partition>:iam::<account>:role[/path/]name`; undefined when malformed. */
export function parseRoleArn(arn: string): RoleArn | undefined {
  const m = ROLE_ARN.exec(arn);
  if (!m) return undefined;
  const [, partition = '', account = '', slashPath = '/', name = ''] = m;
  return { partition, account, path: slashPath, name, arn };
}

/** The provider URL IAM stores for an issuer: the issuer without `https://`. */
export function providerUrlOf(issuerOrUrl: string): string {
  return issuerOrUrl.replace(/^https:\/\//, '');
}

export function oidcProviderArn(partition: string, account: string, providerUrl: string): string {
  return `arn:${partition}:iam::${account}:oidc-provider/${providerUrl}`;
}

/** The IAM OIDC provider STS looks up for a token from `issuer` and a role: its URL, and its ARN in the role's account (undefined for a malformed role ARN). */
export function providerFor(issuer: string, roleArn: string): { url: string; arn: string | undefined } {
  const url = providerUrlOf(issuer);
  const role = parseRoleArn(roleArn);
  return { url, arn: role ? oidcProviderArn(role.partition, role.account, url) : undefined };
}
