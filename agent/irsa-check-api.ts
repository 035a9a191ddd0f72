// The IRSACheck custom resource (kube-irsa.io/v1alpha1), the objects agents share their probe results
// through: its shape, and the calls made on it through client-node's CustomObjectsApi.
import { statusOf, type KubeApi } from '../shared/kube/api.ts';
import type { IdentityDiagnosis } from './diagnosis/explain.ts';

export const IRSACHECK = { group: 'kube-irsa.io', version: 'v1alpha1', plural: 'irsachecks', kind: 'IRSACheck' } as const;

export interface IRSACheckStatus {
  roleArn?: string;
  audience?: string;
  issuer?: string;
  subject?: string;
  health?: 'Healthy' | 'Misconfigured' | 'Unknown';
  reason?: string;
  cause?: string;
  message?: string;
  diagnosis?: IdentityDiagnosis; // with cause: from IAM, shared so agents read IAM once per TTL per identity
  lastProbeTime?: string;
  lastProbeNode?: string;
  lastProbe?: { reason?: string; detail?: string; stsCode?: string; stsMessage?: string; keyId?: string };
  nextProbeAfter?: string;
  streak?: number;
  claim?: { holder?: string; expiresAt?: string };
  conditions?: Array<{ type: string; status: 'True' | 'False' | 'Unknown'; reason: string; message: string; lastTransitionTime: string; observedGeneration?: number }>;
}

export interface IRSACheck {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; generation?: number };
  spec: { serviceAccountName: string };
  status?: IRSACheckStatus;
}

export interface IRSACheckList {
  items: IRSACheck[];
  metadata?: { continue?: string; resourceVersion?: string };
}

const ref = { group: IRSACHECK.group, version: IRSACHECK.version, plural: IRSACHECK.plural };

export class IrsaCheckApi {
  private readonly api: KubeApi;

  constructor(api: KubeApi) {
    this.api = api;
  }

  /** The IRSACheck, or undefined when there is none (404). */
  async get(namespace: string, name: string): Promise<IRSACheck | undefined> {
    try {
      return await this.api.custom.getNamespacedCustomObject({ ...ref, namespace, name }) as IRSACheck;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  async create(namespace: string, name: string): Promise<IRSACheck> {
    return await this.api.custom.createNamespacedCustomObject({
      ...ref, namespace,
      body: { apiVersion: `${IRSACHECK.group}/${IRSACHECK.version}`, kind: IRSACHECK.kind, metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'kube-irsa' } }, spec: { serviceAccountName: name } },
    }) as IRSACheck;
  }

  /** Replaces the status subresource (optimistic concurrency through the object's resourceVersion). */
  async replaceStatus(obj: IRSACheck): Promise<IRSACheck> {
    return await this.api.custom.replaceNamespacedCustomObjectStatus({ ...ref, namespace: obj.metadata.namespace, name: obj.metadata.name, body: obj }) as IRSACheck;
  }

  /** Deletes one; with `resourceVersion`, only if it is still that version. */
  async delete(namespace: string, name: string, resourceVersion?: string): Promise<void> {
    await this.api.custom.deleteNamespacedCustomObject({ ...ref, namespace, name, ...(resourceVersion ? { body: { preconditions: { resourceVersion } } } : {}) });
  }

  /** One page of every IRSACheck in the cluster. */
  async list(cont?: string, limit = 500): Promise<IRSACheckList> {
    return await this.api.custom.listClusterCustomObject({ ...ref, limit, ...(cont ? { _continue: cont } : {}) }) as IRSACheckList;
  }
}
