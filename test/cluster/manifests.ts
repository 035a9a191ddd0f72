// Applying YAML manifests to the test control plane (CRDs wait until Established), with the same
// client the product uses: no kubectl needed.
import { readFile } from 'node:fs/promises';
import { ApiextensionsV1Api, KubernetesObjectApi, loadAllYaml, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { eventually } from './kube-helpers.ts';

export async function applyManifestFile(kc: KubeConfig, file: string): Promise<KubernetesObject[]> {
  const objects = (loadAllYaml(await readFile(file, 'utf8')) as Array<KubernetesObject | null>).filter((o): o is KubernetesObject => o !== null && typeof o === 'object');
  const client = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of objects) {
    applied.push(await client.create(obj));
    if (obj.kind === 'CustomResourceDefinition') {
      const ext = kc.makeApiClient(ApiextensionsV1Api);
      await eventually(async () => {
        const crd = await ext.readCustomResourceDefinition({ name: obj.metadata?.name ?? '' });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
      }, `CRD ${obj.metadata?.name} to be established`);
    }
  }
  return applied;
}
