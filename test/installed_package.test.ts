/**
 * The packages as a user gets them: `npm run package` (main package and this machine's platform package, reused from
 * artifacts/ when newer than their sources), installed into an empty project by an npm whose PATH holds node and npm
 * and sh and nothing else (no compiler, make, python or pkg-config; PKG_CONFIG_PATH empty). Then, from that project: the
 * installed addon's libraries, `lk-audio devices --json` against the rig, a tone captured through the installed
 * package, and the same package with libpulse hidden from the loader (a stub libpulse.so.0 without its functions on
 * LD_LIBRARY_PATH): it loads, lists PortAudio's devices and warns once.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformKey } from '../src/backend/addon_loader.js';
import { playIntoSink, rigChildEnv, rigEnv } from './support/rig.js';
import { sineInt16, sineRmsDbfs } from './support/signal.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = join(ROOT, 'artifacts');
const PLATFORM = platformKey();
const PLATFORM_PACKAGE = `livekit-media-devices-${PLATFORM}`;
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};
const MAIN_TGZ = join(ARTIFACTS, `livekit-media-devices-${PKG.version}.tgz`);
const PLATFORM_TGZ = join(ARTIFACTS, `${PLATFORM_PACKAGE}-${PKG.version}.tgz`);
/** What the packages are made of: a tarball older than any of these is rebuilt. */
const SOURCES = [
  'native',
  'src',
  'bin',
  'binding.gyp',
  'package.json',
  'scripts/package.ts',
  'scripts/install.cjs',
];

const rig = rigEnv();
let project: string;
let bin: string;
let installOutput: string;

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function packagesAreFresh(): boolean {
  if (!existsSync(MAIN_TGZ) || !existsSync(PLATFORM_TGZ)) return false;
  const built = Math.min(statSync(MAIN_TGZ).mtimeMs, statSync(PLATFORM_TGZ).mtimeMs);
  return SOURCES.every((s) => newest(join(ROOT, s)) < built);
}

/** The environment of the user's shell: node, npm and sh on PATH, nothing else; plus the rig's sound server. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const rigVars = Object.fromEntries(
    Object.entries(rigChildEnv()).filter(([k]) => k.startsWith('PULSE_') || k.startsWith('XDG_')),
  );
  return {
    PATH: bin,
    HOME: process.env.HOME ?? tmpdir(),
    PKG_CONFIG_PATH: '',
    ...rigVars,
    ...extra,
  };
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function runIn(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

const lkAudio = (args: string[], env: NodeJS.ProcessEnv): Promise<Run> =>
  runIn(join(bin, 'node'), [join(project, 'node_modules', '.bin', 'lk-audio'), ...args], env);

interface ListedDevice {
  id: string;
  hostApi: string;
}

beforeAll(async () => {
  if (!packagesAreFresh()) {
    execFileSync('npm', ['run', '--silent', 'package'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  project = mkdtempSync(join(tmpdir(), 'lk-install-'));
  bin = join(project, '.bin-user');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  // npm runs install scripts through `sh`, which every user's PATH has.
  symlinkSync(realpathSync('/bin/sh'), join(bin, 'sh'));
  symlinkSync(
    realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()),
    join(bin, 'npm'),
  );
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'lk-install-check', private: true, type: 'module' }),
  );
  // The user's install line, with the tarballs for the registry's packages and the SDK at the version tested here.
  const install = await runIn(
    join(bin, 'npm'),
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--foreground-scripts',
      MAIN_TGZ,
      PLATFORM_TGZ,
      `@livekit/rtc-node@${PKG.devDependencies['@livekit/rtc-node']}`,
    ],
    userEnv(),
  );
  installOutput = `${install.out}\n${install.err}`;
  if (install.code !== 0)
    throw new Error(`npm install failed (${install.code}):\n${installOutput}`);
}, 600_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('installed from the packages, with no compiler', () => {
  it("the user's PATH has node, npm and sh, and no compiler, make, python or pkg-config", async () => {
    for (const tool of ['cc', 'gcc', 'g++', 'c++', 'make', 'python3', 'python', 'pkg-config']) {
      const found = await runIn('/bin/sh', ['-c', `command -v ${tool}`], userEnv());
      expect(found.code, `${tool} is on the PATH: ${found.out}`).not.toBe(0);
    }
    expect((await runIn(join(bin, 'npm'), ['--version'], userEnv())).code).toBe(0);
  });

  it('npm install ran no build: no gyp, no build/ directory; the addon is the platform package', () => {
    expect(installOutput).not.toMatch(/gyp|g\+\+|make:/);
    const installed = join(project, 'node_modules');
    expect(existsSync(join(installed, 'livekit-media-devices', 'build'))).toBe(false);
    expect(readdirSync(join(installed, PLATFORM_PACKAGE)).sort()).toEqual([
      'lk_audio.node',
      'package.json',
    ]);
  });

  it('the installed addon needs no libportaudio, libjack or libpulse; libasound is its audio library', () => {
    const ldd = execFileSync(
      'ldd',
      [join(project, 'node_modules', PLATFORM_PACKAGE, 'lk_audio.node')],
      {
        encoding: 'utf8',
      },
    );
    expect(ldd).not.toMatch(/portaudio|jack|pulse/);
    expect(ldd).toMatch(/libasound\.so\.2 => \//);
    expect(ldd).not.toMatch(/not found/);
  });

  it("lk-audio devices --json lists the rig's sound-server devices, with no warning", async () => {
    const result = await lkAudio(['devices', '--json'], userEnv());
    expect(result.code, result.err).toBe(0);
    expect(result.err).toBe('');
    const devices = JSON.parse(result.out) as { inputs: ListedDevice[]; outputs: ListedDevice[] };
    expect(devices.inputs).toContainEqual(
      expect.objectContaining({ id: rig.micA, hostApi: 'PulseAudio' }),
    );
    expect(devices.outputs).toContainEqual(
      expect.objectContaining({ id: rig.speakerA, hostApi: 'PulseAudio' }),
    );
  });

  it('captures a tone played into the microphone at its level', async () => {
    const tone = sineInt16(1000, 48000, 48000 * 5, -10);
    const metering = lkAudio(
      ['meters', '--device', `[${rig.micA}]`, '--seconds', '1.5', '--json'],
      userEnv(),
    );
    const playing = playIntoSink(rig.micAFeed, tone, { rate: 48000, channels: 1 });
    const result = await metering;
    await playing;
    expect(result.code, result.err).toBe(0);
    const last = JSON.parse(result.out.trim().split('\n').at(-1) ?? 'null') as {
      rmsDbfs: number;
      peakDbfs: number;
    };
    expect(Math.abs(last.rmsDbfs - sineRmsDbfs(-10))).toBeLessThan(0.2);
    expect(Math.abs(last.peakDbfs - -10)).toBeLessThan(0.2);
  });
});

describe('installed, with libpulse hidden from the loader', () => {
  let hidden: Record<string, string>;

  beforeAll(() => {
    // A libpulse.so.0 that is a valid library without any of libpulse's functions: dlopen finds it first through
    // LD_LIBRARY_PATH, so the addon's lookups (and ALSA's pulse plugin) fail as where libpulse is unusable.
    const stubDir = join(project, 'no-libpulse');
    mkdirSync(stubDir);
    writeFileSync(join(stubDir, 'stub.c'), 'int lk_not_libpulse;\n');
    execFileSync('cc', [
      '-shared',
      '-fPIC',
      '-Wl,-soname,libpulse.so.0',
      '-o',
      join(stubDir, 'libpulse.so.0'),
      join(stubDir, 'stub.c'),
    ]);
    // Without the sound server, this machine (no sound card) has no ALSA device: give ALSA one of its own.
    const home = join(project, 'home');
    mkdirSync(home);
    writeFileSync(
      join(home, '.asoundrc'),
      'pcm.lk_null {\n  type null\n  hint.description "lk null"\n}\n',
    );
    hidden = { LD_LIBRARY_PATH: stubDir, HOME: home };
  });

  it("lk-audio devices --json: PortAudio's devices, and one warning line", async () => {
    const result = await lkAudio(['devices', '--json'], userEnv(hidden));
    expect(result.code, result.err).toBe(0);
    const devices = JSON.parse(result.out) as { inputs: ListedDevice[]; outputs: ListedDevice[] };
    expect(devices.inputs).toContainEqual(
      expect.objectContaining({ id: 'ALSA:lk_null', hostApi: 'ALSA' }),
    );
    expect(devices.outputs).toContainEqual(
      expect.objectContaining({ id: 'ALSA:lk_null', hostApi: 'ALSA' }),
    );
    expect([...devices.inputs, ...devices.outputs].filter((d) => d.hostApi !== 'ALSA')).toEqual([]);
    const lines = result.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^lk-audio: warning: sound-server device names are unavailable \(libpulse\.so\.0 lacks pa_\w+\)/,
    );
  });

  it('the API: one process warning (LK_AUDIO_NO_LIBPULSE) however often devices are read', async () => {
    const script = [
      "import { MediaDevices, NO_SOUND_SERVER_LIBRARY_WARNING } from 'livekit-media-devices';",
      'const warnings = [];',
      "process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));",
      'const a = new MediaDevices();',
      'const b = new MediaDevices();',
      'const ids = [a.listInputDevices(), b.listOutputDevices(), a.enumerateDevices()].map((l) => l.map((d) => d.id));',
      'await new Promise((r) => setImmediate(r));',
      'console.log(JSON.stringify({ code: NO_SOUND_SERVER_LIBRARY_WARNING, warnings, ids }));',
    ].join('\n');
    writeFileSync(join(project, 'warn-once.mjs'), script);
    const result = await runIn(join(bin, 'node'), ['warn-once.mjs'], userEnv(hidden));
    expect(result.code, result.err).toBe(0);
    const report = JSON.parse(result.out) as {
      code: string;
      warnings: { code: string; message: string }[];
      ids: string[][];
    };
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]?.code).toBe(report.code);
    expect(report.ids.flat()).toContain('ALSA:lk_null');
    // Node's own report of that warning is all there is on stderr: no probe noise from ALSA, JACK or the loader.
    expect(result.err.match(/\[LK_AUDIO_NO_LIBPULSE\]/g)).toHaveLength(1);
    expect(result.err).not.toMatch(/ALSA lib|jack|Cannot connect/i);
  });
});

describe('installed, without the platform package', () => {
  it('throws NativeAddonError naming the platform and the fix', async () => {
    const installed = join(project, 'node_modules', PLATFORM_PACKAGE);
    const aside = join(project, 'platform-package-aside');
    renameSync(installed, aside);
    try {
      const script =
        "import { MediaDevices } from 'livekit-media-devices';\n" +
        'try { new MediaDevices().listInputDevices(); } catch (e) { console.log(JSON.stringify({ name: e.name, platform: e.platform, message: e.message })); }\n';
      writeFileSync(join(project, 'no-addon.mjs'), script);
      const result = await runIn(join(bin, 'node'), ['no-addon.mjs'], userEnv());
      expect(result.code, result.err).toBe(0);
      const error = JSON.parse(result.out) as { name: string; platform: string; message: string };
      expect(error.name).toBe('NativeAddonError');
      expect(error.platform).toBe(PLATFORM);
      expect(error.message).toContain(`no native addon for ${PLATFORM}`);
      expect(error.message).toContain(PLATFORM_PACKAGE);
      expect(error.message).toContain('npm rebuild livekit-media-devices --build-from-source');

      // The install step then wants to build from source, and says what is missing instead of failing in a compiler.
      const rebuild = await runIn(
        join(bin, 'npm'),
        ['rebuild', 'livekit-media-devices'],
        userEnv(),
      );
      expect(rebuild.code).not.toBe(0);
      expect(rebuild.err).toContain(
        `livekit-media-devices: no prebuilt addon for ${PLATFORM} is installed (package ${PLATFORM_PACKAGE}), ` +
          'and the build from source cannot run: pkg-config is not installed',
      );
      expect(rebuild.err).toContain(
        'apt-get install portaudio19-dev libpulse-dev g++ make python3 pkg-config',
      );
      expect(`${rebuild.out}${rebuild.err}`).not.toMatch(/gyp info/);
    } finally {
      renameSync(aside, installed);
    }
  });
});
