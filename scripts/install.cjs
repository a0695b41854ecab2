#!/usr/bin/env node
// The package's npm `install` step. With the platform package for this machine installed and loading (the prebuilt
// addon, an optional dependency npm picks by os/cpu/libc) it does nothing: no compiler runs. Otherwise it builds the
// addon from source with node-gyp (development in this repository, platforms without a package, a prebuilt addon that
// does not load here), after checking that PortAudio is there, and says plainly what to install when it is not (an
// error when there is no platform package at all; a warning when there is one that does not load).
//
//   npm rebuild livekit-media-devices --build-from-source   (or LK_AUDIO_BUILD_FROM_SOURCE=1) builds even when a
//                                                           platform package is installed.
'use strict';

const { spawnSync } = require('node:child_process');

const PACKAGE = 'livekit-media-devices';

// This machine's platform as the platform packages name it (the same rule as src/backend/addon_loader.ts).
function platformKey() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const report = process.report && process.report.getReport();
    const glibc = report && report.header && report.header.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

// 'loads' when the platform package is installed and its addon loads here; 'absent' when it is not installed; else
// the reason it does not load (a C library older than the one it was built for, no libasound.so.2, ...).
function platformPackageState(platform) {
  const name = `${PACKAGE}-${platform}`;
  let path;
  try {
    path = require.resolve(name);
  } catch {
    return 'absent';
  }
  try {
    require(path);
    return 'loads';
  } catch (error) {
    return String(error && error.message ? error.message : error).split('\n')[0];
  }
}

// What is missing for a from-source build, or null when PortAudio can be found.
function missingForSourceBuild() {
  if (process.platform === 'win32') {
    return process.env.LK_AUDIO_PORTAUDIO_DIR
      ? null
      : 'LK_AUDIO_PORTAUDIO_DIR is not set (a static PortAudio: include/ and lib/portaudio.lib, e.g. vcpkg ' +
          "portaudio:x64-windows-static's installed directory)";
  }
  const probe = spawnSync('pkg-config', ['--exists', 'portaudio-2.0'], { stdio: 'ignore' });
  if (probe.error) return 'pkg-config is not installed, so PortAudio cannot be found';
  if (probe.status !== 0)
    return "PortAudio's development files are not installed (pkg-config portaudio-2.0 fails)";
  return null;
}

function main() {
  const platform = platformKey();
  const forced =
    process.env.LK_AUDIO_BUILD_FROM_SOURCE === '1' ||
    process.env.npm_config_build_from_source === 'true';
  const prebuilt = forced ? 'absent' : platformPackageState(platform);
  if (prebuilt === 'loads') return 0;

  const missing = missingForSourceBuild();
  if (missing && prebuilt !== 'absent') {
    // The package is there but its addon does not load: say why, and leave the install in place (the error at run
    // time says it again). Often a missing library: libasound.so.2 comes with Debian/Ubuntu's libasound2.
    console.error(
      `${PACKAGE}: warning: the prebuilt addon ${PACKAGE}-${platform} does not load here (${prebuilt}), and the ` +
        `build from source cannot run: ${missing}. Install the missing library (libasound.so.2: ` +
        '`apt-get install libasound2`), or the build requirements (see the README), then `npm rebuild ' +
        `${PACKAGE}\`.`,
    );
    return 0;
  }
  if (missing) {
    const why = forced
      ? 'a build from source was asked for'
      : `no prebuilt addon for ${platform} is installed (package ${PACKAGE}-${platform})`;
    console.error(
      `${PACKAGE}: ${why}, and the build from source cannot run: ${missing}.\n` +
        `  Debian/Ubuntu: apt-get install portaudio19-dev libpulse-dev g++ make python3 pkg-config\n` +
        `  macOS (untested): brew install portaudio pkg-config\n` +
        `  then: npm rebuild ${PACKAGE}`,
    );
    return 1;
  }
  if (prebuilt !== 'absent') {
    console.error(
      `${PACKAGE}: the prebuilt addon does not load here (${prebuilt}); building from source`,
    );
  }
  // npm hands its own node-gyp to install scripts; outside npm, the one on PATH.
  const nodeGyp = process.env.npm_config_node_gyp;
  const build = nodeGyp
    ? spawnSync(process.execPath, [nodeGyp, 'rebuild'], { stdio: 'inherit' })
    : spawnSync('node-gyp', ['rebuild'], { stdio: 'inherit', shell: process.platform === 'win32' });
  if (build.error) {
    console.error(`${PACKAGE}: cannot run node-gyp: ${build.error.message}`);
    return 1;
  }
  return build.status === null ? 1 : build.status;
}

process.exitCode = main();
