/**
 * openInput / openOutput are all or nothing: a failure at any step throws a typed error and leaves the process
 * as it was (files, threads, open device streams, the echo canceller's slot), and nothing emits later.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nativeBinding } from '../src/backend/native_binding.js';
import {
  AlreadyOpenError,
  AudioBackendError,
  DeviceNotFoundError,
  DeviceStream,
  InvalidOptionError,
  MediaDevices,
} from '../src/index.js';
import { processSample } from './support/process_sample.js';
import { rigEnv } from './support/rig.js';

const rig = rigEnv();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fail`, which must throw `type`; then checks, 1 s later, that nothing was left behind or emitted. */
async function expectCleanFailure(fail: () => unknown, type: new (...a: never[]) => Error) {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    const streams = nativeBinding().openStreamCount();
    const before = processSample();
    expect(fail).toThrow(type);
    // The old orphan's watchdog fired after 0.5 s: wait past two of its checks.
    await sleep(1100);
    const after = processSample();
    expect(nativeBinding().openStreamCount(), 'open device streams').toBe(streams);
    expect(after.fds, 'open files').toBeLessThanOrEqual(before.fds);
    expect(after.threads, 'threads').toBeLessThanOrEqual(before.threads);
    expect(uncaught, 'nothing emitted or thrown later').toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
}

/** The echo canceller's slot is free again: a capture with processing opens (and is closed). */
async function expectCaptureSlotFree(md: MediaDevices) {
  const capture = md.openInput({ inputDevice: rig.micA });
  expect(capture.apm).toBeDefined();
  await capture.aclose();
}

describe('all-or-nothing opens', () => {
  afterEach(() => vi.restoreAllMocks());

  it('openInput: each failing step releases what the earlier ones took', async () => {
    const md = new MediaDevices();
    // Warm-up: PortAudio, the sound server connection and the LiveKit runtime settle their own threads and files.
    await expectCaptureSlotFree(md);
    await md.openOutput({ outputDevice: rig.speakerA }).aclose();

    // The device choice.
    await expectCleanFailure(
      () => md.openInput({ inputDevice: 'no such mic' }),
      DeviceNotFoundError,
    );
    // An option only the device stream checks, after the catalog was read.
    await expectCleanFailure(
      () => md.openInput({ inputDevice: rig.micA, deviceSampleRate: 1 }),
      InvalidOptionError,
    );
    // The echo canceller's slot, taken by another capture.
    const first = md.openInput({ inputDevice: rig.micA });
    await expectCleanFailure(() => md.openInput({ inputDevice: rig.micB }), AlreadyOpenError);
    await first.aclose();
    // The device refusing to start, after the stream, the echo canceller, a resampler (the device at 44.1 kHz)
    // and the AudioSource were taken. (PulseAudio starts any stream it opened: the refusal is injected.)
    vi.spyOn(DeviceStream.prototype, 'start').mockImplementation(() => {
      throw new AudioBackendError('cannot start the audio stream: Device unavailable', -9985);
    });
    await expectCleanFailure(
      () => md.openInput({ inputDevice: rig.micA, deviceSampleRate: 44100 }),
      AudioBackendError,
    );
    vi.restoreAllMocks();
    await expectCaptureSlotFree(md);
  });

  it('openOutput: a second player is refused with AlreadyOpenError; a failed open leaves nothing', async () => {
    const md = new MediaDevices();
    await md.openOutput({ outputDevice: rig.speakerA }).aclose();
    await expectCleanFailure(
      () => md.openOutput({ outputDevice: 'no such speaker' }),
      DeviceNotFoundError,
    );
    const player = md.openOutput({ outputDevice: rig.speakerA });
    await player.start();
    await expectCleanFailure(() => md.openOutput({ outputDevice: rig.speakerB }), AlreadyOpenError);
    await player.aclose();
    // Closed, the player makes room for another.
    const next = md.openOutput({ outputDevice: rig.speakerB });
    await next.aclose();
  });
});
