// The API server's own Prometheus metrics, for measuring what kube-irsa costs it (watches held,
// requests made) from the server's side rather than from kube-irsa's own accounting.
import https from 'node:https';
import type { ControlPlane } from './control-plane.ts';

/** The API server's own /metrics, read with the admin credentials. */
export async function apiServerMetrics(cp: ControlPlane): Promise<string> {
  const opts: https.RequestOptions = {};
  await cp.kubeConfig.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    https.get(new URL('/metrics', cp.server), opts, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
    }).on('error', reject);
  });
}

/** The sum of a metric's series whose labels match. */
export function sumOf(metrics: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const m of metrics.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) if (labels.test(m[1]!)) sum += Number(m[2]);
  return sum;
}
