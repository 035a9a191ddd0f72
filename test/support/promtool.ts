// `promtool check metrics` on a /metrics text: the real Prometheus linter (names, units, HELP and
// TYPE), built with the other test binaries.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ensureBinaries } from '../cluster/binaries.ts';

/** The problems promtool reports, one per line (`metric_name problem`); empty when there are none. */
export async function lintMetrics(text: string): Promise<string[]> {
  const promtool = path.join(await ensureBinaries(['promtool']), 'promtool');
  const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stdin.end(text);
  const code = await new Promise<number | null>((resolve, reject) => child.once('error', reject).once('close', resolve));
  const problems = out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  // exit 0: clean; 3: lint problems only; anything else: promtool could not parse the text
  if (code !== 0 && code !== 3) throw new Error(`promtool check metrics failed (exit ${code}): ${out}`);
  return problems;
}

/**
 * What promtool reports on names kept on purpose, exactly. prom-client's default Node.js gauges end
 * in `_total` (the names the common Node.js dashboards query); the reference webhook's metrics keep
 * its names and microseconds so its users' dashboards keep working (docs/metrics.md).
 */
export const KEPT_NAME_PROBLEMS = {
  nodejsDefaults: ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']
    .map((m) => `${m} non-counter metrics should not have "_total" suffix`),
  referenceWebhook: [
    ...['http_request_count', 'pod_identity_webhook_missing_sa_count', 'pod_identity_webhook_pod_count'].flatMap((m) => [
      `${m} counter metrics should have "_total" suffix`,
      `${m} non-histogram and non-summary metrics should not have "_count" suffix`,
    ]),
    'http_request_duration_microseconds use base unit "seconds" instead of "microseconds"',
  ],
} as const;
