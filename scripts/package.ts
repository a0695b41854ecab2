/**
 * `npm run package`: builds the npm packages into artifacts/ (gitignored):
 * - the platform package of this machine, `livekit-media-devices-<platform>-<version>.tgz`: the addon built with
 *   PortAudio linked statically (binding.gyp's portaudio_static=1), with `os`, `cpu` and (Linux) `libc` set and
 *   lk_audio.node as its only content besides package.json;
 * - the main package, `livekit-media-devices-<version>.tgz`, whose optionalDependencies name the platform packages
 *   built here (npm installs the one that fits the machine; the loader finds it).
 *
 * On Linux the built addon is checked: it must need no libportaudio, libjack or libpulse (libpulse is loaded at run
 * time), and no JACK code may be linked in. Only linux-x64-gnu is built and tested so far; the other platforms in
 * PLATFORMS are set out for their builds (untested).
 *
 * Prints one JSON document: the tarballs with their packed and unpacked sizes, and the addon's NEEDED libraries.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformKey, PLATFORM_PACKAGE_PREFIX } from '../src/backend/addon_loader.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = process.env.LK_AUDIO_ARTIFACTS_DIR ?? join(ROOT, 'artifacts');
const ADDON = 'lk_audio.node';

/** npm's os / cpu / libc of each platform package. */
const PLATFORMS: Record<string, { os: string; cpu: string; libc?: string }> = {
  'linux-x64-gnu': { os: 'linux', cpu: 'x64', libc: 'glibc' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64' },
  'darwin-x64': { os: 'darwin', cpu: 'x64' },
  'win32-x64-msvc': { os: 'win32', cpu: 'x64' },
};

interface PackageJson {
  name: string;
  version: string;
  description: string;
  license: string;
  files: string[];
  scripts: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

/** What one `npm pack --json` reports about a tarball. */
interface PackReport {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

function log(message: string): void {
  console.error(`package: ${message}`);
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return execFileSync(cmd, args, {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function pack(dir: string): PackReport {
  const out = run('npm', ['pack', '--json', '--pack-destination', ARTIFACTS], dir);
  const report = (JSON.parse(out) as PackReport[])[0];
  if (!report) throw new Error(`npm pack in ${dir} reported nothing`);
  return report;
}

/** Builds the addon with PortAudio linked statically, in a directory of its own (build/ is left to development). */
function buildStaticAddon(platform: string): string {
  const dir = join(ARTIFACTS, 'build', platform);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, 'binding.gyp'), join(dir, 'binding.gyp'));
  cpSync(join(ROOT, 'native'), join(dir, 'native'), { recursive: true });
  // binding.gyp finds node-addon-api through Node's resolution: point it at the repository's node_modules.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LK_AUDIO_STATIC_PORTAUDIO: '1',
    NODE_PATH: join(ROOT, 'node_modules'),
  };
  // Node's own headers when Debian's nodejs-dev put them there (as setup.sh does), else node-gyp downloads them.
  if (!env.npm_config_nodedir && process.execPath === '/usr/bin/node')
    env.npm_config_nodedir = '/usr';
  const nodeGyp = process.env.npm_config_node_gyp;
  log(`building the addon for ${platform} (PortAudio linked statically)`);
  if (nodeGyp) run(process.execPath, [nodeGyp, 'rebuild'], dir, env);
  else run('node-gyp', ['rebuild'], dir, env);
  return join(dir, 'build', 'Release', ADDON);
}

/**
 * Linux: the addon's NEEDED libraries, after checking that no audio library but libasound is among them and that no
 * JACK code is linked in; then strips it.
 */
function checkLinuxAddon(addon: string): string[] {
  const dynamic = run('readelf', ['-d', addon], ROOT);
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map(
    (m) => m[1] ?? '',
  );
  const forbidden = needed.filter((lib) => /portaudio|jack|pulse/.test(lib));
  if (forbidden.length > 0) throw new Error(`${addon} needs ${forbidden.join(', ')}`);
  const symbols = run('nm', [addon], ROOT);
  if (/PaJack_|jack_client_open/.test(symbols)) throw new Error(`${addon} has JACK code linked in`);
  // The symbol table was only needed for that check.
  run('strip', ['--strip-unneeded', addon], ROOT);
  return needed;
}

function platformPackage(main: PackageJson, platform: string, addon: string): PackReport {
  const target = PLATFORMS[platform];
  if (!target) throw new Error(`no platform package is set out for ${platform}`);
  const name = PLATFORM_PACKAGE_PREFIX + platform;
  const dir = join(ARTIFACTS, 'stage', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(addon, join(dir, ADDON));
  const json = {
    name,
    version: main.version,
    description: `The ${platform} native addon of ${main.name} (PortAudio linked in)`,
    license: main.license,
    main: ADDON,
    files: [ADDON],
    os: [target.os],
    cpu: [target.cpu],
    ...(target.libc ? { libc: [target.libc] } : {}),
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(json, null, 2)}\n`);
  return pack(dir);
}

function mainPackage(main: PackageJson, platforms: string[]): PackReport {
  const dir = join(ARTIFACTS, 'stage', main.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const entry of [...main.files, 'README.md']) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  const json: PackageJson = {
    ...main,
    // Only the install step ships: the other scripts need the repository.
    scripts: { install: main.scripts.install ?? 'node scripts/install.cjs' },
    optionalDependencies: Object.fromEntries(
      platforms.map((p) => [PLATFORM_PACKAGE_PREFIX + p, main.version]),
    ),
  };
  delete json.devDependencies;
  delete json.allowScripts;
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(json, null, 2)}\n`);
  return pack(dir);
}

function main(): void {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  const platform = platformKey();
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const stale of ['stage']) rmSync(join(ARTIFACTS, stale), { recursive: true, force: true });

  log('building the TypeScript sources');
  run('npx', ['--no-install', 'tsup', '--silent'], ROOT);
  const addon = buildStaticAddon(platform);
  const needed = process.platform === 'linux' ? checkLinuxAddon(addon) : [];
  const platformReport = platformPackage(pkg, platform, addon);
  const mainReport = mainPackage(pkg, [platform]);
  const describe = (r: PackReport) => ({
    tarball: join(ARTIFACTS, r.filename),
    packedBytes: r.size,
    unpackedBytes: r.unpackedSize,
    files: r.files.length,
  });
  console.log(
    JSON.stringify(
      {
        platform,
        addon,
        addonBytes: statSync(addon).size,
        needed,
        main: describe(mainReport),
        platformPackage: describe(platformReport),
      },
      null,
      2,
    ),
  );
}

main();
