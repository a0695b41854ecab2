import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeAddonError } from '../errors.js';

/** @internal Platforms with a prebuilt package (`livekit-media-devices-<platform>`); only linux-x64-gnu is built and tested so far. */
export const PREBUILT_PLATFORMS = [
  'linux-x64-gnu',
  'darwin-arm64',
  'darwin-x64',
  'win32-x64-msvc',
] as const;

/** @internal The package name prefix of the platform packages. */
export const PLATFORM_PACKAGE_PREFIX = 'livekit-media-devices-';

/** @internal Where the loaded addon came from. */
export type AddonSource = 'LK_AUDIO_BINARY' | 'platform package' | 'local build';

/** @internal The loaded addon and where it was found. */
export interface LoadedAddon {
  binding: unknown;
  path: string;
  source: AddonSource;
}

const LOCAL_BUILD = join('build', 'Release', 'lk_audio.node');

const BUILD_FROM_SOURCE =
  'install PortAudio, libpulse headers, a C++ compiler, make, python3 and pkg-config (Debian/Ubuntu: ' +
  '`apt-get install portaudio19-dev libpulse-dev g++ make python3 pkg-config`; macOS: ' +
  '`brew install portaudio pkg-config`), then run `npm rebuild livekit-media-devices --build-from-source`';

// A glibc Linux names its C library in the process report; musl's does not.
function linuxLibc(): 'gnu' | 'musl' {
  const report = process.report?.getReport() as
    { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? 'gnu' : 'musl';
}

/**
 * @internal This machine's platform as the platform packages name it: `linux-x64-gnu`, `linux-arm64-musl`,
 * `darwin-arm64`, `win32-x64-msvc`, ...
 */
export function platformKey(): string {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${linuxLibc()}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

// The local build sits in the package root's build/ whether the loader runs from src/, dist/ or dist/cli/.
function findLocalBuild(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, LOCAL_BUILD);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

/**
 * @internal
 * Loads the native addon, from the first of:
 * 1. the file named by the environment variable `LK_AUDIO_BINARY` (a path to an `lk_audio.node`; for testing a
 *    particular build, such as the prebuilt one, against the suite). No fallback: if it fails, that is the error.
 * 2. the platform package `livekit-media-devices-<platform>` (an optional dependency; npm installs the one that fits).
 * 3. a local build, `build/Release/lk_audio.node` (development, and platforms without a package).
 * @throws NativeAddonError naming the platform, what was tried and the fix.
 */
export function loadAddon(): LoadedAddon {
  const require = createRequire(import.meta.url);
  const platform = platformKey();
  const explicit = process.env.LK_AUDIO_BINARY;
  if (explicit) {
    const path = resolve(explicit);
    try {
      return { binding: require(path), path, source: 'LK_AUDIO_BINARY' };
    } catch (error) {
      throw new NativeAddonError(
        platform,
        `livekit-media-devices: cannot load the native addon named by LK_AUDIO_BINARY (${path}): ${describe(error)}`,
        { cause: error },
      );
    }
  }

  const packageName = PLATFORM_PACKAGE_PREFIX + platform;
  let packageFailure: string | undefined;
  let packagePath: string | undefined;
  try {
    packagePath = require.resolve(packageName);
  } catch {
    // Not installed: try the local build.
  }
  if (packagePath) {
    try {
      return { binding: require(packagePath), path: packagePath, source: 'platform package' };
    } catch (error) {
      packageFailure = `${packageName} is installed but its addon does not load here: ${describe(error)}`;
    }
  }

  const local = findLocalBuild();
  if (local) {
    try {
      return { binding: require(local), path: local, source: 'local build' };
    } catch (error) {
      throw new NativeAddonError(
        platform,
        `livekit-media-devices: the local build ${local} does not load: ${describe(error)}` +
          (packageFailure ? `; ${packageFailure}` : '') +
          `. Rebuild it: \`npm rebuild livekit-media-devices --build-from-source\``,
        { cause: error },
      );
    }
  }

  const prebuilt = (PREBUILT_PLATFORMS as readonly string[]).includes(platform);
  const problem =
    packageFailure ??
    (prebuilt
      ? `its platform package ${packageName} is not installed (npm installs it as an optional dependency; ` +
        '--omit=optional, --no-optional or a lockfile made on another platform leave it out)'
      : `there is no prebuilt package for ${platform}`);
  const fix = packageFailure
    ? 'Install the library it names, if any (libasound.so.2: Debian/Ubuntu `apt-get install libasound2`), or ' +
      `build it from source: ${BUILD_FROM_SOURCE}.`
    : prebuilt
      ? 'Reinstall with optional dependencies (`npm install livekit-media-devices`), or build it from source: ' +
        `${BUILD_FROM_SOURCE}.`
      : `Build it from source: ${BUILD_FROM_SOURCE}.`;
  throw new NativeAddonError(
    platform,
    `livekit-media-devices: no native addon for ${platform}: ${problem}, and there is no local build ` +
      `(${LOCAL_BUILD}). ${fix}`,
  );
}
