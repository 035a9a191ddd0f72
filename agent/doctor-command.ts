// `kube-irsa doctor --token-file <f> --role-arn <arn>`: the agent's checks for one token, printed
// step by step with the reason and the fix. Exit 0 healthy, 2 misconfigured, 3 inconclusive,
// 1 bad usage.
import { readFile } from 'node:fs/promises';
import { parseCommandLine, processIo, type Command, type CommandIo } from '../shared/cli/command.ts';
import type { FlagSpecs } from '../shared/cli/flags.ts';
import { checkIdentityToken, type TokenCheckResult } from './check-token.ts';
import { specificFix } from './core/messages.ts';
import { REASONS, type Verdict } from './core/reasons.ts';
import { IdentityProber } from './identity-prober.ts';
import { RateLimiter } from './rate-limiter.ts';

const DOCTOR_FLAGS = {
  'token-file': { kind: 'string', default: '', metavar: 'file', help: 'the web-identity token (e.g. the pod\'s AWS_WEB_IDENTITY_TOKEN_FILE)' },
  'role-arn': { kind: 'string', default: '', help: 'the role to assume' },
  audience: { kind: 'string', default: 'sts.amazonaws.com', help: 'the audience the token must carry' },
  region: { kind: 'string', default: '', help: 'STS region (default: $AWS_REGION, else us-east-1)' },
  'sts-endpoint': { kind: 'string', default: '', help: 'STS endpoint URL overriding the regional one' },
  'issuer-ca-file': { kind: 'list', default: [], metavar: 'pem', help: 'extra CA certificates for the issuer\'s discovery and JWKS' },
  output: { kind: 'string', default: 'text', choices: ['text', 'json'], help: 'text for people, json for tools' },
} as const satisfies FlagSpecs;

export const EXIT_CODES: Readonly<Record<Verdict, number>> = { healthy: 0, misconfigured: 2, inconclusive: 3 };

export function renderReport(result: TokenCheckResult, roleArn: string, audience: string): string {
  const mark = { pass: '✔', fail: '✘', inconclusive: '?', skipped: '-' } as const;
  const [, namespace = '?', serviceAccount = '?'] = /^system:serviceaccount:([^:]+):(.+)$/.exec(String(result.claims?.sub ?? '')) ?? [];
  const lines = [
    `Role:  ${roleArn}`,
    result.claims ? `Token: iss=${String(result.claims.iss)} sub=${String(result.claims.sub)} aud=${[result.claims.aud ?? []].flat().join(',')}${typeof result.claims.exp === 'number' ? ` exp=${new Date(result.claims.exp * 1000).toISOString()}` : ''}` : 'Token: (unreadable)',
    '',
    ...result.steps.map((s) => `  ${mark[s.status]} ${s.name}${s.detail ? `: ${s.detail}` : ''}`),
    '',
    `Result: ${result.reason} (${result.verdict})`,
    `  ${REASONS[result.reason].meaning}`,
  ];
  if (result.verdict !== 'healthy') {
    lines.push(`  ${specificFix({ reason: result.reason, detail: result.detail, roleArn, audience, namespace, serviceAccount, claims: result.claims })}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runDoctor(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const parsed = parseCommandLine({
    name: 'doctor', usage: 'doctor --token-file <f> --role-arn <arn> [--audience a] [--region r] [--sts-endpoint url] [--output text|json]',
    description: 'Runs every check of the agent for one token and role, and prints each check, the reason and the fix.\nExit code: 0 healthy, 2 misconfigured, 3 inconclusive, 1 bad usage.',
  }, DOCTOR_FLAGS, argv, io);
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  const problems: string[] = [];
  if (v['token-file'] === '') problems.push('--token-file is required');
  if (v['role-arn'] === '') problems.push('--role-arn is required');
  if (parsed.positionals.length > 0) problems.push(`unexpected argument "${parsed.positionals[0] ?? ''}"`);
  let token = '';
  if (v['token-file'] !== '') {
    try {
      token = (await readFile(v['token-file'], 'utf8')).trim();
    } catch (err) {
      problems.push(`cannot read --token-file ${v['token-file']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const caPems: string[] = [];
  for (const f of v['issuer-ca-file']) {
    try {
      caPems.push(await readFile(f, 'utf8'));
    } catch (err) {
      problems.push(`cannot read --issuer-ca-file ${f}: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) {
    io.stderr.write(problems.map((p) => `kube-irsa doctor: ${p}\n`).join(''));
    return 1;
  }
  const prober = new IdentityProber({
    nodeName: 'doctor', defaultRegion: v.region || process.env.AWS_REGION || 'us-east-1',
    stsEndpoint: v['sts-endpoint'] || undefined, issuerCaPems: caPems, limiter: new RateLimiter(5),
  });
  try {
    const result = await checkIdentityToken({ token, roleArn: v['role-arn'], audience: v.audience, region: undefined, nowSeconds: Math.floor(Date.now() / 1000), prober });
    if (v.output === 'json') {
      io.stdout.write(`${JSON.stringify({
        reason: result.reason, verdict: result.verdict, detail: result.detail, roleArn: v['role-arn'], audience: v.audience,
        token: result.claims ? { iss: result.claims.iss, sub: result.claims.sub, aud: result.claims.aud, exp: result.claims.exp } : null,
        steps: result.steps, ...(result.stsError ? { sts: result.stsError } : {}), meaning: REASONS[result.reason].meaning,
      }, null, 2)}\n`);
    } else {
      io.stdout.write(renderReport(result, v['role-arn'], v.audience));
    }
    return EXIT_CODES[result.verdict];
  } finally {
    prober.close();
  }
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'Check one token and role the way the agent does, and explain the result',
  run: (argv) => runDoctor(argv),
};
