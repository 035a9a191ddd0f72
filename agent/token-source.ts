// Where the agent gets a pod's web-identity token. `kubelet` reads the very file the pod reads,
// from the kubelet's pod volume directory (mounted read-only); `token-request` mints a short token
// bound to the pod, so a pod can be checked before it runs. Tokens stay in memory only.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeKubeError, type KubeApi } from '../shared/kube/api.ts';
import { serviceAccountOf } from '../shared/identity/resolver.ts';
import type { AgentPod, TokenLocation } from './core/pod-checks.ts';

/**
 * A token, or why there is none. `refused`: the API server refused or failed a TokenRequest — a
 * fact about the agent's own access, never about the pod.
 */
export type TokenRead = { readonly ok: true; readonly token: string } | { readonly ok: false; readonly detail: string; readonly refused?: true };

export interface TokenSource {
  readonly kind: 'kubelet' | 'token-request';
  read(pod: AgentPod, location: TokenLocation | undefined, audience: string): Promise<TokenRead>;
}

/** `<root>/pods/<uid>/volumes/kubernetes.io~projected/<volume>/<path>`, the kubelet's layout. */
export function kubeletTokenPath(rootDir: string, podUid: string, location: TokenLocation): string {
  return path.join(rootDir, 'pods', podUid, 'volumes', 'kubernetes.io~projected', location.volumeName, location.path);
}

export function kubeletTokenSource(rootDir: string): TokenSource {
  return {
    kind: 'kubelet',
    async read(pod, location) {
      if (!location) return { ok: false, detail: 'the pod mounts no web-identity token' };
      const uid = pod.metadata?.uid ?? '';
      const file = kubeletTokenPath(rootDir, uid, location);
      try {
        const token = (await readFile(file, 'utf8')).trim();
        return token === '' ? { ok: false, detail: `${file} is empty` } : { ok: true, token };
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        return { ok: false, detail: `cannot read ${file} (${e.code ?? e.message})` };
      }
    },
  };
}

/** 600 s, the API server's minimum: the token only has to live for one probe. */
export const MINTED_TOKEN_SECONDS = 600;

/**
 * Mints a token of `serviceAccount` for `audience` through TokenRequest, living MINTED_TOKEN_SECONDS
 * and, for a pod's check, bound to that pod. Undefined when the API server returned no token.
 */
export async function mintToken(api: KubeApi, namespace: string, serviceAccount: string, audience: string, boundPod?: { name: string; uid: string }): Promise<string | undefined> {
  const res = await api.core.createNamespacedServiceAccountToken({
    namespace, name: serviceAccount,
    body: { spec: { audiences: [audience], expirationSeconds: MINTED_TOKEN_SECONDS, ...(boundPod ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', ...boundPod } } : {}) } },
  });
  return res.status?.token || undefined;
}

export function tokenRequestSource(api: KubeApi): TokenSource {
  return {
    kind: 'token-request',
    async read(pod, _location, audience) {
      try {
        const token = await mintToken(api, pod.metadata?.namespace ?? '', serviceAccountOf(pod), audience, { name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' });
        return token ? { ok: true, token } : { ok: false, detail: 'the TokenRequest returned no token' };
      } catch (err) {
        return { ok: false, refused: true, detail: `TokenRequest failed: ${describeKubeError(err)}` };
      }
    },
  };
}
