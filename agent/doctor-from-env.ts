// `kube-irsa doctor --from-env`, for `kubectl exec` / `kubectl debug` inside a pod: resolves
// credentials with the SDK's default Node.js chain (fromNodeProviderChain) exactly as an
// application in this environment would, says which provider won and whether that is the pod's web
// identity, then runs the agent's checks on the token file AWS_WEB_IDENTITY_TOKEN_FILE names.
// Nothing resolved is printed but the provider's name: no key, no token.
import { readFile } from 'node:fs/promises';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { CommandIo } from '../shared/cli/command.ts';
import type { TokenCheckResult } from './check-token.ts';
import { REASONS, type Reason } from './core/reasons.ts';
import { shadowedFinding, shadowingVariables } from './core/shadowed-credentials.ts';
import { stsEndpointFor } from './core/sts-endpoint.ts';
import { winningProvider, type WinningProvider } from './core/winning-provider.ts';
import { EXIT_CODES, renderReport, verdictJson } from './doctor-report.ts';

const CHAIN_TIMEOUT_MS = 20_000;

export interface FromEnvOptions {
  readonly region: string;
  readonly stsEndpoint: string;
  readonly audience: string;
  readonly output: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The agent's checks of one token (doctor's checkOnce). */
  readonly check: (region: string, token: string, roleArn: string) => Promise<TokenCheckResult>;
}

type ChainOutcome = { readonly ok: true; readonly provider: WinningProvider } | { readonly ok: false; readonly error: string };

/** What the default chain resolves here; the credentials themselves are dropped unread. */
async function resolveChain(o: FromEnvOptions, region: string): Promise<ChainOutcome> {
  const endpoint = stsEndpointFor(o.stsEndpoint || undefined, region);
  const chain = fromNodeProviderChain({ clientConfig: { region, ...(endpoint ? { endpoint } : {}) } });
  let timer: NodeJS.Timeout | undefined;
  try {
    const credentials = await Promise.race([
      chain(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no provider answered within ${CHAIN_TIMEOUT_MS / 1000} s`)), CHAIN_TIMEOUT_MS); }),
    ]);
    return { ok: true, provider: winningProvider((credentials as { $source?: Record<string, unknown> }).$source, o.env) };
  } catch (err) {
    const e = err as { name?: string; Code?: string; message?: string };
    return { ok: false, error: `${e.Code ?? e.name ?? 'Error'}: ${e.message ?? String(err)}` };
  } finally {
    clearTimeout(timer);
  }
}

function unchecked(reason: Reason, detail: string): TokenCheckResult {
  return { reason, verdict: REASONS[reason].verdict, detail, steps: [{ name: 'the token file', status: 'fail', detail }], claims: undefined, stsAnswered: undefined };
}

/** The agent's checks on the token file; a missing variable or file is a finding, not a usage error. */
async function checkTokenFile(o: FromEnvOptions, region: string, tokenFile: string, roleArn: string): Promise<TokenCheckResult> {
  if (tokenFile === '' || roleArn === '') {
    return unchecked('PodNotMutated', `${tokenFile === '' ? 'AWS_WEB_IDENTITY_TOKEN_FILE' : 'AWS_ROLE_ARN'} is not set here: this environment has no web identity`);
  }
  let token: string;
  try {
    token = (await readFile(tokenFile, 'utf8')).trim();
  } catch (err) {
    return unchecked('TokenUnreadable', `cannot read AWS_WEB_IDENTITY_TOKEN_FILE ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return token === '' ? unchecked('TokenUnreadable', `${tokenFile} is empty`) : o.check(region, token, roleArn);
}

export async function runFromEnv(o: FromEnvOptions, io: CommandIo): Promise<number> {
  const { env } = o;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || o.region || 'us-east-1';
  const roleArn = env.AWS_ROLE_ARN ?? '';
  const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE ?? '';
  const chain = await resolveChain(o, region);

  let result = await checkTokenFile(o, region, tokenFile, roleArn);
  const others = shadowingVariables({ spec: { containers: [{ name: 'this', env: Object.entries(env).flatMap(([name, value]) => (value === undefined ? [] : [{ name, value }])) }] } }, () => undefined);
  const chainStep = chain.ok
    ? { name: 'the SDK\'s default chain picks web identity', status: chain.provider.webIdentity ? 'pass' : 'fail', detail: chain.provider.name } as const
    : { name: 'the SDK\'s default chain picks web identity', status: 'fail', detail: `no provider resolved credentials: ${chain.error}` } as const;
  if (result.verdict === 'healthy' && chain.ok && !chain.provider.webIdentity) {
    const shadow = shadowedFinding(others);
    const detail = `the SDK's default chain uses ${chain.provider.name}, not the pod's web identity${shadow ? ` (${shadow.detail})` : ''}`;
    result = { ...result, reason: 'CredentialsShadowed', verdict: 'misconfigured', detail };
  }
  result = { ...result, steps: [chainStep, ...result.steps] };

  if (o.output === 'json') {
    io.stdout.write(`${JSON.stringify({
      provider: chain.ok ? { name: chain.provider.name, webIdentity: chain.provider.webIdentity } : { error: chain.error },
      otherCredentials: others, region, roleArn, tokenFile,
      reason: result.reason, verdict: result.verdict, detail: result.detail, steps: result.steps, ...verdictJson(result),
    }, null, 2)}\n`);
  } else {
    const head = [
      'From this environment (the JavaScript SDK v3 default chain, as an application here resolves it):',
      chain.ok
        ? `Provider: ${chain.provider.name}${chain.provider.webIdentity ? ' — the pod\'s web identity' : ' — NOT the pod\'s web identity'}`
        : `Provider: none (${chain.error})`,
      ...(others.length > 0 ? [`Also set: ${others.map((v) => v.variable).join(', ')} (SDKs may take these before web identity; docs/reasons.md)`] : []),
      `Region: ${region}`,
      '',
    ];
    io.stdout.write(`${head.join('\n')}\n${renderReport(result, roleArn || '(AWS_ROLE_ARN unset)', o.audience)}`);
  }
  return EXIT_CODES[result.verdict];
}
