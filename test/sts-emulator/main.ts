// `npm run sts-emulator -- --config <file> --port <n> [--ca-file <pem>]`: runs the emulator until
// stopped. A malformed configuration is rejected at start with the file, the path and the reason.
import { readFile } from 'node:fs/promises';
import { parseCommandLine } from '../../shared/cli/command.ts';
import { StsEmulator } from './emulator.ts';
import { ConfigError, loadEmulatorConfig } from './state.ts';

const FLAGS = {
  config: { kind: 'string', default: '', metavar: 'file', help: 'YAML or JSON file with accounts, OIDC providers and roles (required)' },
  port: { kind: 'int', default: 0, min: 0, max: 65535, help: 'port to listen on; 0 picks a free one' },
  host: { kind: 'string', default: '127.0.0.1', help: 'address to listen on' },
  'ca-file': { kind: 'list', default: [], metavar: 'pem', help: 'extra CA certificates trusted when fetching issuer discovery and JWKS (repeatable)' },
  admin: { kind: 'bool', default: false, help: 'serve the test control API under /_emulator/ (state changes, faults, request log)' },
} as const;

async function main(argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine({ name: 'sts-emulator', usage: 'sts-emulator --config <file> [--port n] [--ca-file pem]',
    description: 'An STS emulator for AssumeRoleWithWebIdentity that verifies tokens and evaluates trust policies.' }, FLAGS, argv);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  if (values.config === '') {
    process.stderr.write('sts-emulator: --config is required\n');
    return 1;
  }
  try {
    const config = await loadEmulatorConfig(values.config);
    const extraCaPems = await Promise.all(values['ca-file'].map((f) => readFile(f, 'utf8')));
    const emulator = await StsEmulator.start({ config, port: values.port, host: values.host, extraCaPems, admin: values.admin });
    const stopped = new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.stdout.write(`STS emulator listening on ${emulator.endpoint} (region ${config.region ?? 'us-east-1'}; ${emulator.endpoint}/<region> for others)\n`);
    process.stdout.write(`Use it with: AWS_ENDPOINT_URL_STS=${emulator.endpoint}\n`);
    await stopped;
    await emulator.stop();
    return 0;
  } catch (err) {
    process.stderr.write(`sts-emulator: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
