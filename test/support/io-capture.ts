// Standard output and error of an in-process command run, as text.
import { PassThrough } from 'node:stream';
import type { CommandIo } from '../../shared/cli/command.ts';

export function captureIo(): CommandIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout, stderr, out: () => out, err: () => err };
}
