// OCI image layouts written from plain tar layers (image-spec v1.1): how the real-node tests make
// images that no registry can serve here — the Dockerfile's base (Debian + Node 24) and the pod
// sandbox's pause image — and hand them to BuildKit (as a named build context) or containerd
// (`ctr images import` of the layout as a tar archive).
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const MEDIA_TYPE = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export interface ImageConfig {
  readonly env?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly workingDir?: string;
  readonly user?: string;
}

export interface OciImage {
  /** The layout folder (oci-layout, index.json, blobs/sha256/…). */
  readonly layout: string;
  /** The image manifest's digest, `sha256:…`. */
  readonly digest: string;
  /** The name written into the index (`org.opencontainers.image.ref.name` and containerd's). */
  readonly name: string;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Writes an OCI image layout with the given uncompressed tar layers (bottom first) into `layout`,
 * replacing it. Layers are moved into the layout's blobs.
 */
export async function writeOciImage(layout: string, name: string, layers: readonly string[], config: ImageConfig): Promise<OciImage> {
  await rm(layout, { recursive: true, force: true });
  const blobs = path.join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const addBlob = async (data: string | Buffer): Promise<{ digest: string; size: number }> => {
    const hex = createHash('sha256').update(data).digest('hex');
    await writeFile(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: Buffer.byteLength(data) };
  };

  const layerDescriptors = [];
  for (const tar of layers) {
    const hex = await sha256OfFile(tar);
    const { size } = await stat(tar);
    await rename(tar, path.join(blobs, hex));
    layerDescriptors.push({ mediaType: MEDIA_TYPE.layer, digest: `sha256:${hex}`, size });
  }
  const configBlob = await addBlob(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: config.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(config.entrypoint ? { Entrypoint: config.entrypoint } : {}),
      ...(config.cmd ? { Cmd: config.cmd } : {}),
      ...(config.workingDir ? { WorkingDir: config.workingDir } : {}),
      ...(config.user ? { User: config.user } : {}),
    },
    rootfs: { type: 'layers', diff_ids: layerDescriptors.map((l) => l.digest) },
    history: layerDescriptors.map(() => ({ created_by: 'kube-irsa test/node/oci.ts' })),
  }));
  const manifest = await addBlob(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: { mediaType: MEDIA_TYPE.config, ...configBlob },
    layers: layerDescriptors,
  }));
  await writeFile(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(path.join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.index,
    manifests: [{
      mediaType: MEDIA_TYPE.manifest, ...manifest,
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1) },
    }],
  }));
  return { layout, digest: manifest.digest, name };
}

/** A tar layer of the files under `root` (owned by root, as an image's files are). */
export async function tarLayer(root: string, out: string, entries: readonly string[] = ['.']): Promise<string> {
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', out, ...entries]);
  return out;
}

/** The layout as one tar archive, the form `ctr images import` takes. */
export async function layoutArchive(image: OciImage, out: string): Promise<string> {
  await run('tar', ['-C', image.layout, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
  return out;
}
