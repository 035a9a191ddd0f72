// AWS_ROLE_SESSION_NAME from the pod's name, so CloudTrail shows which pod used a role. STS wants
// 2 to 64 characters of [\w+=,.@-]. Pods created with generateName have no name yet at admission,
// so the prefix is completed with part of the request uid; names over 64 characters keep their
// start and end with a short hash of the whole name, so two long names never collide.
import { createHash } from 'node:crypto';
import type { PodLike } from './pod.ts';

export const MAX_SESSION_NAME = 64;

export function roleSessionNameFor(pod: PodLike, requestName: string | undefined, requestUid: string | undefined): string {
  const name = typeof pod.metadata?.name === 'string' && pod.metadata.name !== '' ? pod.metadata.name
    : requestName !== undefined && requestName !== '' ? requestName
      : `${typeof pod.metadata?.generateName === 'string' ? pod.metadata.generateName : 'pod-'}${(requestUid ?? '').replace(/[^a-z0-9]/gi, '').slice(0, 5).toLowerCase() || 'x'}`;
  return sanitizeSessionName(name);
}

export function sanitizeSessionName(raw: string): string {
  let name = raw.replace(/[^\w+=,.@-]/g, '-');
  if (name.length > MAX_SESSION_NAME) {
    const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
    name = `${name.slice(0, MAX_SESSION_NAME - hash.length - 1)}-${hash}`;
  }
  return name.length < 2 ? name.padEnd(2, '_') : name;
}
