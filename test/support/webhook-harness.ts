// Runs the real webhook in-process against a test control plane and registers it with the API
// server (url + caBundle), waiting for the registration to take effect with dry-run creates.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { AdmissionregistrationV1Api, type V1MutatingWebhook } from '@kubernetes/client-node';
import { parseFlags } from '../../shared/cli/flags.ts';
import { buildWebhookConfig, WEBHOOK_FLAGS } from '../../webhook/config.ts';
import { startWebhook, type RunningWebhook } from '../../webhook/main.ts';
import type { ControlPlane } from '../cluster/control-plane.ts';
import { eventually, type KubeHelpers } from '../cluster/kube-helpers.ts';
import { issueCertificate } from '../cluster/pki.ts';
import { captureLogs, type CapturedLogs } from './log-capture.ts';

export const TEST_NAMESPACE_LABEL = 'kube-irsa.test/webhook';

export interface WebhookHarness {
  readonly webhook: RunningWebhook;
  readonly logs: CapturedLogs;
  readonly certDir: string;
  readonly url: string;
  /** Writes a fresh certificate the way a Secret volume update does (new folder, `..data` swap). */
  rotateCertificate(): Promise<void>;
  register(opts?: { name?: string; rules?: V1MutatingWebhook['rules']; failurePolicy?: 'Fail' | 'Ignore' }): Promise<string>;
  stop(): Promise<void>;
}

export async function startWebhookHarness(cp: ControlPlane, extraFlags: string[] = []): Promise<WebhookHarness> {
  const certDir = path.join(cp.dir, `webhook-certs-${randomBytes(3).toString('hex')}`);
  await mkdir(certDir);
  let generation = 0;
  // Secret volume layout: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/
  async function writeCertificate(): Promise<void> {
    generation++;
    const dataDir = path.join(certDir, `..gen-${generation}`);
    await mkdir(dataDir);
    await issueCertificate(cp.ca, dataDir, { name: 'tls', commonName: '127.0.0.1', ips: ['127.0.0.1'], dnsNames: ['localhost'] });
    await symlink(path.basename(dataDir), path.join(certDir, '..data_tmp'));
    await rename(path.join(certDir, '..data_tmp'), path.join(certDir, '..data'));
    if (generation === 1) {
      await symlink('..data/tls.crt', path.join(certDir, 'tls.crt'));
      await symlink('..data/tls.key', path.join(certDir, 'tls.key'));
    } else {
      await rm(path.join(certDir, `..gen-${generation - 1}`), { recursive: true, force: true });
    }
  }
  await writeCertificate();

  const logs = captureLogs('webhook');
  const { values, given } = parseFlags(WEBHOOK_FLAGS, [
    '--kubeconfig', cp.kubeconfigPath, '--port=0', '--metrics-port=0', '--bind-address=127.0.0.1',
    '--tls-cert', path.join(certDir, 'tls.crt'), '--tls-key', path.join(certDir, 'tls.key'),
    '--shutdown-grace-period=5s', ...extraFlags,
  ]);
  const { config } = buildWebhookConfig(values, given);
  const webhook = await startWebhook(config, logs.logger, { random: () => 0 });
  await eventually(() => (webhook.isReady() ? true : undefined), 'the webhook caches to sync', 30_000);
  const url = `https://127.0.0.1:${webhook.port}/mutate`;
  const admission = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const registered: string[] = [];

  return {
    webhook, logs, certDir, url,
    rotateCertificate: writeCertificate,
    async register(opts = {}) {
      const name = opts.name ?? `kube-irsa-${randomBytes(3).toString('hex')}`;
      await admission.createMutatingWebhookConfiguration({
        body: {
          metadata: { name },
          webhooks: [{
            name: 'pod-identity-webhook.kube-irsa.io',
            clientConfig: { url, caBundle: Buffer.from(cp.ca.certPem).toString('base64') },
            rules: opts.rules ?? [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
            namespaceSelector: { matchLabels: { [TEST_NAMESPACE_LABEL]: 'on' } },
            objectSelector: { matchExpressions: [{ key: 'eks.amazonaws.com/skip-pod-identity-webhook', operator: 'DoesNotExist' }] },
            admissionReviewVersions: ['v1', 'v1beta1'], sideEffects: 'None', reinvocationPolicy: 'IfNeeded',
            failurePolicy: opts.failurePolicy ?? 'Fail', timeoutSeconds: 10,
          }],
        },
      });
      registered.push(name);
      return name;
    },
    async stop() {
      for (const name of registered) await admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
      await webhook.stop();
    },
  };
}

/** Waits until pods created in `namespace` are mutated (the API server's webhook informer lags). */
export async function waitForMutation(kube: KubeHelpers, namespace: string, serviceAccount: string): Promise<void> {
  await eventually(async () => {
    const pod = await kube.createPod(namespace, `probe-${randomBytes(3).toString('hex')}`, { serviceAccountName: serviceAccount }, {}, true);
    return pod.spec?.volumes?.some((v) => v.name === 'aws-iam-token') ? true : undefined;
  }, 'the webhook registration to take effect', 30_000, 200);
}
