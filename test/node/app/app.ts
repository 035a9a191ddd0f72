// What a user's pod does with the identity kube-irsa gave it: an STS client with the SDK's default
// credential chain (web identity from the variables and token file the webhook injected), then
// GetCallerIdentity. Prints one JSON line — the ARN it runs as, or the error — then stays up so
// `kubectl exec <pod> -- node /app/app.ts --once` can ask again; `--once` exits after the line.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

async function whoAmI(): Promise<Record<string, string | undefined>> {
  const client = new STSClient({});
  try {
    const out = await client.send(new GetCallerIdentityCommand({}));
    return { arn: out.Arn, account: out.Account, tokenFile: process.env.AWS_WEB_IDENTITY_TOKEN_FILE };
  } catch (err) {
    return { error: (err as Error).name, message: (err as Error).message };
  } finally {
    client.destroy();
  }
}

process.stdout.write(`${JSON.stringify(await whoAmI())}\n`);
if (!process.argv.includes('--once')) {
  const idle = setInterval(() => undefined, 1 << 30);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => clearInterval(idle));
}
