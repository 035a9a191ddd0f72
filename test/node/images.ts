// Images for the real node, made without a registry:
// - the Dockerfile's base, `node:24-bookworm-slim`: Debian bookworm (minbase, from Debian's
//   packages with mmdebstrap) plus the Node 24 this project runs on and npm from the npm registry;
//   cached outside the repository, keyed by the versions;
// - the pod sandbox's pause image: the program built with the test binaries (go/pause);
// - the project's real Dockerfile (and the test application's), built by BuildKit's buildkitd
//   with its runc worker, the base handed over as a named build context so the Dockerfile stays as
//   users build it. RUN steps use the machine's network (npm ci reaches the npm registry, like the
//   test binaries' builds reach the Go module proxy); buildkitd keeps its layer cache in the cache
//   folder, so a warm run rebuilds only what changed.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startProcess, type ManagedProcess } from '../cluster/process.ts';
import { layoutArchive, tarLayer, writeOciImage, type ImageConfig, type OciImage } from './oci.ts';

const run = promisify(execFile);
const log = (line: string): void => void process.stderr.write(`[real-node images] ${line}\n`);

export const BASE_IMAGE = 'node:24-bookworm-slim';
const DEBIAN_SUITE = 'bookworm';

export function cacheDir(): string {
  return process.env.KUBE_IRSA_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'kube-irsa');
}

/** Debian packages the image builds need; installed with apt-get when missing and running as root. */
export async function ensureDebianPackages(packages: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const p of packages) {
    const status = await run('dpkg-query', ['-W', '-f=${Status}', p]).then((r) => r.stdout, () => '');
    if (!status.includes('install ok installed')) missing.push(p);
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages: ${missing.join(' ')} (apt-get install ${missing.join(' ')})`);
  log(`installing Debian packages the real-node tests need: ${missing.join(' ')} (apt-get, as root)`);
  await run('apt-get', ['update', '-q'], { maxBuffer: 64 * 1024 * 1024 });
  await run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024,
  });
}

/**
 * The Dockerfile's base image as an OCI layout, built once per Node, npm and Debian suite:
 * Debian minbase with ca-certificates, then /usr/local/bin/node and npm as the official image has them.
 */
export async function baseImage(): Promise<OciImage> {
  const npmVersion = (await run('npm', ['--version'])).stdout.trim();
  const npmCa = await machineNpmCa();
  const caKey = npmCa ? `-ca-${createHash('sha256').update(npmCa).digest('hex').slice(0, 12)}` : '';
  const key = `node-${process.versions.node}-npm-${npmVersion}-${DEBIAN_SUITE}-slim${caKey}`;
  const layout = path.join(cacheDir(), 'images', key);
  const manifest = path.join(layout, 'kube-irsa-image.json');
  if (existsSync(manifest)) return JSON.parse(await readFile(manifest, 'utf8')) as OciImage;

  await ensureDebianPackages(['mmdebstrap']);
  const work = await mkdtemp(path.join(cacheDir(), 'images-work-'));
  try {
    const started = Date.now();
    log(`building the base image ${BASE_IMAGE} (Debian ${DEBIAN_SUITE} minbase with mmdebstrap, Node ${process.versions.node}, npm ${npmVersion}); first run only`);
    const debian = path.join(work, 'debian.tar');
    await run('mmdebstrap', ['--quiet', '--variant=minbase', '--include=ca-certificates',
      '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-exclude=/usr/share/locale/*',
      DEBIAN_SUITE, debian], { maxBuffer: 64 * 1024 * 1024 });

    // Node and npm where the official image has them
    const root = path.join(work, 'node-root');
    const lib = path.join(root, 'usr', 'local', 'lib', 'node_modules');
    await mkdir(path.join(root, 'usr', 'local', 'bin'), { recursive: true });
    await mkdir(lib, { recursive: true });
    await copyFile(process.execPath, path.join(root, 'usr', 'local', 'bin', 'node'));
    const pack = JSON.parse((await run('npm', ['pack', `npm@${npmVersion}`, '--json', '--pack-destination', work])).stdout) as { filename: string }[];
    await run('tar', ['-xzf', path.join(work, pack[0]?.filename ?? ''), '-C', lib]);
    await rename(path.join(lib, 'package'), path.join(lib, 'npm'));
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr', 'local', 'bin', 'npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(root, 'usr', 'local', 'bin', 'npx'));
    if (npmCa) {
      // This machine reaches the npm registry through a TLS-intercepting proxy whose CA npm is told
      // to trust (its cafile). The local base carries that trust for npm only (npm's global
      // config), so the Dockerfile's `RUN npm ci` works as on the machine; the runtime's trust
      // (Node's own CA store) is untouched.
      await mkdir(path.join(root, 'usr', 'local', 'etc'), { recursive: true });
      await writeFile(path.join(root, 'usr', 'local', 'etc', 'npm-ca.crt'), npmCa);
      await writeFile(path.join(root, 'usr', 'local', 'etc', 'npmrc'), 'cafile=/usr/local/etc/npm-ca.crt\n');
    }
    const nodeLayer = await tarLayer(root, path.join(work, 'node.tar'));

    const staging = `${layout}.partial`;
    const image = await writeOciImage(staging, `docker.io/library/${BASE_IMAGE}`, [debian, nodeLayer], {
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `NODE_VERSION=${process.versions.node}`],
      cmd: ['node'],
    });
    await rm(layout, { recursive: true, force: true });
    await rename(staging, layout);
    const result = { ...image, layout };
    await writeFile(manifest, JSON.stringify(result));
    log(`base image built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return result;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The CA bundle this machine's npm is configured to trust (npm config cafile), if any. */
async function machineNpmCa(): Promise<string | undefined> {
  const cafile = (await run('npm', ['config', 'get', 'cafile']).then((r) => r.stdout, () => '')).trim();
  if (cafile === '' || cafile === 'null' || cafile === 'undefined') return undefined;
  return readFile(cafile, 'utf8').catch(() => undefined);
}

/** The pause image (one static binary) as an archive for `ctr images import`. */
export function pauseImageArchive(binDir: string, name: string, dir: string): Promise<string> {
  return staticBinaryImageArchive({ name, dir, files: { pause: path.join(binDir, 'pause') }, config: { entrypoint: ['/pause'], user: '65535:65535' } });
}

/**
 * An image of static binaries and nothing else (no shell, no libc), as an archive for `ctr images
 * import`: `files` maps paths in the image to files of the machine. Made in `dir`.
 */
export async function staticBinaryImageArchive(o: { name: string; dir: string; files: Readonly<Record<string, string>>; config: ImageConfig }): Promise<string> {
  const slug = o.name.replace(/[^a-zA-Z0-9]+/g, '-');
  const root = path.join(o.dir, `${slug}-root`);
  for (const [inImage, from] of Object.entries(o.files)) {
    await mkdir(path.dirname(path.join(root, inImage)), { recursive: true });
    await copyFile(from, path.join(root, inImage));
  }
  const layer = await tarLayer(root, path.join(o.dir, `${slug}-layer.tar`), [...new Set(Object.keys(o.files).map((f) => f.split('/')[0] ?? f))]);
  const image = await writeOciImage(path.join(o.dir, `${slug}-image`), o.name, [layer], o.config);
  return layoutArchive(image, path.join(o.dir, `${slug}-image.tar`));
}

export interface BuildKit {
  /** Builds `dockerfile` in `context` with the base image as the FROM it names; returns an OCI archive. */
  build(opts: { context: string; dockerfile?: string; name: string; out: string; base: OciImage }): Promise<string>;
  stop(): Promise<void>;
}

/**
 * buildkitd with its runc worker, in a private mount namespace (its overlay mounts end with it),
 * the host's network for RUN steps, its cache in the cache folder, and its cgroups under one parent
 * that stop() removes.
 */
export async function startBuildKit(binDir: string, dir: string): Promise<BuildKit> {
  const root = path.join(cacheDir(), 'buildkit');
  await mkdir(root, { recursive: true });
  const socket = path.join(dir, 'buildkitd.sock');
  const config = path.join(dir, 'buildkitd.toml');
  await writeFile(config, [
    `root = ${JSON.stringify(root)}`,
    '[grpc]',
    `  address = [${JSON.stringify(`unix://${socket}`)}]`,
    '[worker.oci]',
    '  enabled = true',
    `  binary = ${JSON.stringify(path.join(binDir, 'runc'))}`,
    '  networkMode = "host"',
    `  defaultCgroupParent = ${JSON.stringify(BUILDKIT_CGROUP)}`,
    '  gc = true',
    '  gckeepstorage = "4GB"',
    '[worker.containerd]',
    '  enabled = false',
    '',
  ].join('\n'));
  // /run is private too: buildkitd puts its trace socket there
  const daemon: ManagedProcess = startProcess('buildkitd', 'unshare', [
    '--mount', '--propagation', 'private', 'bash', '-c', 'mount -t tmpfs kube-irsa-buildkit-run /run && exec "$@"', 'buildkitd',
    path.join(binDir, 'buildkitd'), '--config', config,
  ], { logFile: path.join(dir, 'buildkitd.log') });
  const buildctl = (args: readonly string[]) => run(path.join(binDir, 'buildctl'), ['--addr', `unix://${socket}`, ...args], { maxBuffer: 64 * 1024 * 1024 });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!daemon.isRunning()) throw new Error(`buildkitd exited (${String(await daemon.exited)}); log: ${daemon.logFile}`);
    if (await buildctl(['debug', 'workers']).then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error(`buildkitd did not answer within 30 s; log: ${daemon.logFile}`);
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    async build({ context, dockerfile = 'Dockerfile', name, out, base }) {
      const started = Date.now();
      log(`building ${name} from ${path.relative(process.cwd(), path.join(context, dockerfile)) || dockerfile} with BuildKit`);
      try {
        await buildctl(['build', '--progress=plain', '--frontend=dockerfile.v0',
          `--local=context=${context}`, `--local=dockerfile=${path.dirname(path.join(context, dockerfile))}`,
          `--opt=filename=${path.basename(dockerfile)}`,
          // FROM node:24-bookworm-slim resolves to the local layout: nothing is pulled
          `--oci-layout=base=${base.layout}`, `--opt=context:${BASE_IMAGE}=oci-layout://base@${base.digest}`,
          `--output=type=oci,dest=${out},name=${name}`]);
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`BuildKit could not build ${name}: ${(e.stderr ?? e.message).split('\n').slice(-40).join('\n')}`, { cause: err });
      }
      log(`built ${name} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      return out;
    },
    async stop() {
      await daemon.stop(10_000);
      // its build containers are gone by now; their cgroups may take a moment more
      for (let i = 0; i < 50 && await cgroupTreeExists(BUILDKIT_CGROUP); i++) {
        await removeCgroupTree(BUILDKIT_CGROUP);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

export const BUILDKIT_CGROUP = 'kube-irsa-buildkit';

export async function cgroupTreeExists(name: string): Promise<boolean> {
  const controllers = await readdir('/sys/fs/cgroup').catch(() => []);
  for (const c of controllers) if (await stat(path.join('/sys/fs/cgroup', c, name)).then(() => true, () => false)) return true;
  return false;
}

/** Removes /sys/fs/cgroup/<controller>/<name> and everything below it, deepest first (all empty by then). */
export async function removeCgroupTree(name: string): Promise<void> {
  await run('bash', ['-c', `for d in /sys/fs/cgroup/*/${name}; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done; true`]);
}
