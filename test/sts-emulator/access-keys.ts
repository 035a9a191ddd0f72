// Access key ids as AWS shapes them: AKIA (an IAM user's long-term key) or ASIA (a session's), then
// 16 characters of A-Z2-7. Made at run time, so no key id stands in the repository.
import { randomBytes } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function randomBase32(length: number): string {
  let out = '';
  for (const b of randomBytes(length)) out += BASE32[b % 32];
  return out;
}

export function newAccessKeyId(kind: 'AKIA' | 'ASIA'): string {
  return `${kind}${randomBase32(16)}`;
}
