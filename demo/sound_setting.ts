/**
 * Where the demo runs: the machine's own default devices when a sound server with real devices answers, otherwise
 * (a container, CI, a server) the package's private sound server (scripts/audio-rig.sh) and its virtual room.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearStaleRigs, rigAnswers, startRig, stopRig } from '../scripts/audio_rig.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The devices the demo plays and records on, and how to put a near-end talker in front of the microphone. */
export interface SoundSetting {
  /** One line saying what this is, for the user. */
  readonly description: string;
  /** Speaker for the far end (undefined: the system default). */
  readonly speaker: string | undefined;
  /** Microphone (undefined: the system default). */
  readonly microphone: string | undefined;
  /** Whether {@link playNearEnd} puts a known talker into the microphone (only the virtual room can). */
  readonly hasVirtualTalker: boolean;
  /**
   * Plays mono 48 kHz samples into the microphone as a near-end talker; resolves when they have been played.
   * @throws Error without a virtual talker
   */
  playNearEnd(samples: Int16Array): Promise<void>;
  /** Stops what this setting started (the private sound server, a talker still playing). */
  close(): Promise<void>;
}

/** The sound server's default sink and source, or undefined when no server answers within 3 s. */
function soundServerDefaults(): Promise<{ sink: string; source: string } | undefined> {
  return new Promise((resolve) => {
    execFile('pactl', ['info'], { timeout: 3000 }, (error, stdout) => {
      if (error) return resolve(undefined);
      const field = (name: string): string =>
        new RegExp(`^${name}: (.*)$`, 'm').exec(String(stdout))?.[1]?.trim() ?? '';
      resolve({ sink: field('Default Sink'), source: field('Default Source') });
    });
  });
}

/**
 * Whether this machine has real devices to run on: elsewhere than Linux, assume so (Core Audio, WASAPI); on
 * Linux, a sound server whose default sink is not a placeholder and whose default source is not a monitor.
 */
async function machineHasRealDevices(): Promise<boolean> {
  if (platform() !== 'linux') return true;
  const defaults = await soundServerDefaults();
  if (!defaults) return false;
  const { sink, source } = defaults;
  return sink !== '' && sink !== 'auto_null' && source !== '' && !source.endsWith('.monitor');
}

/** The machine's default devices; the user is the near-end talker. */
function machineSetting(): SoundSetting {
  return {
    description: "this machine's default speaker and microphone",
    speaker: undefined,
    microphone: undefined,
    hasVirtualTalker: false,
    playNearEnd: () => Promise.reject(new Error('no virtual talker on real devices')),
    close: async () => {},
  };
}

/** The virtual room of a running rig, whose environment is in `env`. */
function roomSetting(env: NodeJS.ProcessEnv, stop: () => Promise<void>): SoundSetting {
  const speaker = env.LK_RIG_ROOM_SPEAKER;
  const microphone = env.LK_RIG_ROOM_MIC;
  const feed = env.LK_RIG_ROOM_MIC_FEED;
  if (!speaker || !microphone || !feed) {
    throw new Error(
      'the private sound server has no virtual room: its LADSPA plugin is missing (Debian: swh-plugins)',
    );
  }
  const talkers = new Set<ChildProcess>();
  return {
    description:
      'the virtual room of a private PulseAudio server: the speaker comes back into the microphone 50 ms ' +
      'later at -9 dB with a 150 ms reverberant tail',
    speaker,
    microphone,
    hasVirtualTalker: true,
    playNearEnd(samples) {
      // pacat plays into the microphone's feed: the talker reaches the microphone unchanged.
      const child = spawn(
        'pacat',
        [
          '--playback',
          '--raw',
          '--format=s16le',
          '--rate=48000',
          '--channels=1',
          `--device=${feed}`,
        ],
        { env, stdio: ['pipe', 'ignore', 'pipe'] },
      );
      talkers.add(child);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => {
          talkers.delete(child);
          if (code === 0) resolve();
          else reject(new Error(`pacat into ${feed} failed (${code ?? signal}): ${stderr.trim()}`));
        });
        child.stdin.on('error', () => {
          // pacat died early: its exit status says why
        });
        child.stdin.end(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
      });
    },
    async close() {
      for (const child of talkers) child.kill();
      await stop();
    },
  };
}

/**
 * Chooses where to run. With `forceRig`, or when the machine has no usable sound server, starts a private one in
 * .rig/demo-<pid> and points this process at it (process.env), unless the environment already names a running rig.
 */
export async function chooseSoundSetting(forceRig: boolean): Promise<SoundSetting> {
  if (await rigAnswers(process.env)) return roomSetting(process.env, async () => {});
  if (!forceRig && (await machineHasRealDevices())) return machineSetting();
  await clearStaleRigs(join(ROOT, '.rig'));
  const dir = join(ROOT, '.rig', `demo-${process.pid}`);
  const exported = await startRig(dir);
  Object.assign(process.env, exported);
  // A stray PULSE_SINK / PULSE_SOURCE would redirect streams that name no device.
  delete process.env.PULSE_SINK;
  delete process.env.PULSE_SOURCE;
  const stop = async (): Promise<void> => {
    await stopRig(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    return roomSetting(process.env, stop);
  } catch (error) {
    await stop();
    throw error;
  }
}
