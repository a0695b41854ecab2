import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FfiHandle,
  FfiRequest,
  FfiResponse,
  livekitFfiRequest,
  livekitRetrievePtr,
} from '@livekit/rtc-ffi-bindings';
import { AudioFrame } from '@livekit/rtc-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APM_SAMPLE_RATES,
  apmFrameSamples,
  AudioProcessingModule,
  callApm,
  STREAM_OK,
  type AudioProcessingOptions,
} from '../src/apm.js';
import {
  AudioFormatMismatchError,
  AudioProcessingError,
  ModuleClosedError,
} from '../src/errors.js';
import { cancelEcho, cancelEchoFiles } from '../src/offline_aec.js';
import { readWav, writeWav } from '../src/wav.js';
import {
  applyEchoPath,
  erleDb,
  mixInt16,
  rmsDbfs,
  scaleToRmsDbfs,
  sineInt16,
  toneLevelDbfs,
  whiteNoiseInt16,
} from './support/signal.js';

const RATE = 48000;
const FRAME = RATE / 100;
const sec = (s: number): number => Math.round(s * RATE);

const dir = mkdtempSync(join(tmpdir(), 'apm-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Speech from espeak-ng (22.05 kHz), resampled by sox to 48 kHz mono. */
async function speech(text: string, voice: string): Promise<Int16Array> {
  const raw = join(dir, `${voice}-raw.wav`);
  const wav = join(dir, `${voice}.wav`);
  execFileSync('espeak-ng', ['-v', voice, '-w', raw, text]);
  execFileSync('sox', [raw, '-r', String(RATE), wav]);
  const audio = await readWav(wav);
  expect(audio).toMatchObject({ sampleRate: RATE, channels: 1 });
  return audio.samples;
}

/**
 * Runs mono 48 kHz near-end (mic) and far-end samples through a fresh module frame by frame, as a live call does:
 * far-end frame, stream delay, near-end frame. Returns the processed near end.
 */
function run(
  mic: Int16Array,
  far: Int16Array | undefined,
  options: AudioProcessingOptions,
  delayMs = 0,
): Int16Array {
  const out = mic.slice(0, mic.length - (mic.length % FRAME));
  const farFrame = new Int16Array(FRAME);
  using apm = new AudioProcessingModule(options);
  for (let at = 0; at < out.length; at += FRAME) {
    if (far !== undefined) {
      farFrame.set(far.subarray(at, at + FRAME));
      if (at + FRAME > far.length) farFrame.fill(0, Math.max(0, far.length - at));
      apm.processReverseStream({
        data: farFrame,
        sampleRate: RATE,
        channels: 1,
        samplesPerChannel: FRAME,
      });
      apm.setStreamDelayMs(delayMs);
    }
    const frame = { data: out.subarray(at, at + FRAME), sampleRate: RATE, channels: 1 };
    apm.processStream({ ...frame, samplesPerChannel: FRAME });
  }
  return out;
}

/** Level change (dB) from input to output over [start, end) seconds. */
function gainDb(input: Int16Array, output: Int16Array, start: number, end: number): number {
  return rmsDbfs(output, sec(start), sec(end)) - rmsDbfs(input, sec(start), sec(end));
}

describe('echo cancellation on a synthetic echo path', () => {
  // Timeline: 0 s .. far-end speech (echo only in the mic) .. far end silent, near-end talker alone.
  let far: Int16Array;
  let mic: Int16Array;
  let nearStart: number;
  let nearEnd: number;
  const echoPath = { delayMs: 50, directGainDb: -9, tailMs: 150, reflections: 24, seed: 7 };

  beforeAll(async () => {
    const farSpeech = await speech(
      'Good morning everyone, and thank you for joining the weekly planning call. Today we will review ' +
        'the release schedule, talk about the open bugs in the audio pipeline, and decide who takes the ' +
        'remaining tasks. Please keep your microphones muted unless you are speaking.',
      'en',
    );
    const nearSpeech = await speech(
      'I think the echo canceller should run before the noise suppressor, because the residual echo ' +
        'looks like noise to it. Can we measure that on the test rig this afternoon?',
      'en+f3',
    );
    expect(farSpeech.length).toBeGreaterThan(sec(11));
    nearStart = farSpeech.length / RATE + 1;
    nearEnd = nearStart + nearSpeech.length / RATE;
    const total = sec(nearEnd + 0.5);
    far = new Int16Array(total);
    far.set(farSpeech);
    const near = new Int16Array(total);
    near.set(nearSpeech, sec(nearStart));
    const echo = applyEchoPath(far, RATE, echoPath);
    mic = mixInt16(echo, near, whiteNoiseInt16(total, -75, 3));
    // The echo path is what the issue asks for: -6 to -12 dB overall.
    const echoGain = rmsDbfs(echo, 0, sec(10)) - rmsDbfs(far, 0, sec(10));
    expect(echoGain).toBeGreaterThanOrEqual(-12);
    expect(echoGain).toBeLessThanOrEqual(-6);
  });

  /**
   * ERLE alone passes for a canceller that mutes everything: every test that checks it also checks the near-end
   * talker who follows the far end (loss over the talk < 3 dB, as in the near-end test below).
   */
  function expectNearEndKept(out: Int16Array, what: string): void {
    const loss = -gainDb(mic, out, nearStart, nearEnd);
    console.log(`near-end speech loss, ${what}: ${loss.toFixed(2)} dB`);
    expect(loss, `near-end speech loss (dB), ${what}`).toBeLessThan(3);
  }

  it('removes >= 25 dB of echo over seconds 2-10 with echo cancellation on, and keeps the near end', () => {
    const out = run(mic, far, { echoCancellation: true }, echoPath.delayMs);
    const erle = erleDb(mic, out, sec(2), sec(10), FRAME, -60);
    console.log(`ERLE, AEC on, seconds 2-10: ${erle.toFixed(1)} dB`);
    expect(erle).toBeGreaterThanOrEqual(25);
    expectNearEndKept(out, 'AEC on');
  });

  it('leaves the echo alone (ERLE within 1 dB of 0) with echo cancellation off', () => {
    const out = run(mic, far, {}, echoPath.delayMs);
    const erle = erleDb(mic, out, sec(2), sec(10), FRAME, -60);
    console.log(`ERLE, AEC off, seconds 2-10: ${erle.toFixed(2)} dB`);
    expect(Math.abs(erle)).toBeLessThanOrEqual(1);
  });

  it('passes near-end speech alone with < 3 dB loss after converging on the echo', () => {
    const out = run(mic, far, { echoCancellation: true }, echoPath.delayMs);
    const loss = -gainDb(mic, out, nearStart, nearEnd);
    console.log(`near-end speech loss, AEC on: ${loss.toFixed(2)} dB`);
    expect(loss).toBeLessThan(3);
  });

  it('cancels the same echo from WAV files through the offline helper (delay hint 0), keeping the near end', async () => {
    const micPath = join(dir, 'mic.wav');
    const farPath = join(dir, 'far.wav');
    const outPath = join(dir, 'out.wav');
    await writeWav(micPath, { sampleRate: RATE, channels: 1, samples: mic });
    await writeWav(farPath, { sampleRate: RATE, channels: 1, samples: far });
    const stats = await cancelEchoFiles(micPath, farPath, outPath);
    const out = await readWav(outPath);
    expect(out.samples.length).toBe(mic.length);
    expect(stats.delayClamps).toBe(0);
    expect(stats.streamFrames).toBe(Math.ceil(mic.length / FRAME));
    const erle = erleDb(mic, out.samples, sec(2), sec(10), FRAME, -60);
    console.log(`ERLE, offline helper, seconds 2-10: ${erle.toFixed(1)} dB`);
    expect(erle).toBeGreaterThanOrEqual(25);
    expectNearEndKept(out.samples, 'offline helper');
  });

  it('cancelEcho with a delay hint: the true delay (50 ms) cancels and keeps the near end; 750 ms is clamped on every frame', () => {
    // The hint changes little here: AEC3 finds delays up to a few hundred ms itself (offline, echo at 150/300/450 ms:
    // ERLE within 0.3 dB with the hint or without). What a test can see is that the hint reaches the module: a value
    // outside 0..500 ms is clamped (and counted) on every frame, one inside it never is.
    const near = { sampleRate: RATE, channels: 1, samples: mic };
    const farAudio = { sampleRate: RATE, channels: 1, samples: far };
    const hinted = cancelEcho(near, farAudio, { delayMs: echoPath.delayMs });
    expect(hinted.stats.delayClamps).toBe(0);
    const erle = erleDb(mic, hinted.audio.samples, sec(2), sec(10), FRAME, -60);
    console.log(`ERLE, offline helper with a 50 ms hint, seconds 2-10: ${erle.toFixed(1)} dB`);
    expect(erle).toBeGreaterThanOrEqual(25);
    expectNearEndKept(hinted.audio.samples, 'offline helper, 50 ms hint');
    const clamped = cancelEcho(near, farAudio, { delayMs: 750 });
    expect(clamped.stats.delayClamps).toBe(clamped.stats.streamFrames);
    expect(clamped.stats.streamFrames).toBe(Math.ceil(mic.length / FRAME));
  });

  it('takes a stereo far end against a mono near end (near end kept), and rejects a far end at another rate', () => {
    const stereoFar = new Int16Array(far.length * 2);
    for (let i = 0; i < far.length; i++) stereoFar[2 * i] = stereoFar[2 * i + 1] = far[i]!;
    const near = { sampleRate: RATE, channels: 1, samples: mic };
    const { audio } = cancelEcho(near, { sampleRate: RATE, channels: 2, samples: stereoFar });
    const erle = erleDb(mic, audio.samples, sec(2), sec(10), FRAME, -60);
    console.log(`ERLE, stereo far end, seconds 2-10: ${erle.toFixed(1)} dB`);
    expect(erle).toBeGreaterThanOrEqual(25);
    expectNearEndKept(audio.samples, 'stereo far end');
    const at16k = { sampleRate: 16000, channels: 1, samples: far };
    expect(() => cancelEcho(near, at16k)).toThrow(AudioFormatMismatchError);
  });
});

describe('noise suppression, high-pass filter and gain control', () => {
  it('noise suppression lowers stationary white noise at -40 dBFS by >= 10 dB', () => {
    const noise = whiteNoiseInt16(sec(8), -40, 11);
    const out = run(noise, undefined, { noiseSuppression: true });
    const change = gainDb(noise, out, 2, 8);
    console.log(`noise suppression, white noise -40 dBFS, seconds 2-8: ${change.toFixed(1)} dB`);
    expect(change).toBeLessThanOrEqual(-10);
  });

  it('the high-pass filter lowers 40 Hz by >= 30 dB and changes 1 kHz by < 1 dB', () => {
    const input = mixInt16(sineInt16(40, RATE, sec(8), -12), sineInt16(1000, RATE, sec(8), -12));
    const out = run(input, undefined, { highPassFilter: true });
    const level = (x: Int16Array, hz: number): number =>
      toneLevelDbfs(x.subarray(sec(2), sec(8)), RATE, hz);
    const low = level(out, 40) - level(input, 40);
    const high = level(out, 1000) - level(input, 1000);
    console.log(`high-pass filter: 40 Hz ${low.toFixed(1)} dB, 1 kHz ${high.toFixed(2)} dB`);
    expect(low).toBeLessThanOrEqual(-30);
    expect(Math.abs(high)).toBeLessThan(1);
  });

  it('gain control raises speech at -40 dBFS by >= 10 dB within 3 s', async () => {
    const input = scaleToRmsDbfs(
      await speech(
        'Gain control should bring this quiet talker up to a comfortable level within a few seconds.',
        'en+m3',
      ),
      -40,
    );
    const out = run(input, undefined, { autoGainControl: true });
    const gains = [0, 1, 2].map((s) => gainDb(input, out, s, s + 1));
    console.log(
      `gain control, speech at -40 dBFS, per second 0-3: ${gains.map((g) => g.toFixed(1))} dB`,
    );
    // Over the third second: the gain is reached within 3 s.
    expect(gains[2]).toBeGreaterThanOrEqual(10);
  });
});

/** Runs an ES module snippet in a fresh Node process that can import the TypeScript sources. */
function runChild(code: string, nodeArgs: string[] = []) {
  const result = spawnSync(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', code],
    { cwd: join(import.meta.dirname, '..'), encoding: 'utf8', timeout: 60_000 },
  );
  return { ...result, json: () => JSON.parse(result.stdout.trim().split('\n').at(-1) ?? 'null') };
}

describe('frame validation', () => {
  it('throws a typed error for every rejected frame shape, and the process lives on', () => {
    const child = runChild(`
      const { AudioProcessingModule } = await import('./src/apm.ts');
      const apm = new AudioProcessingModule({ echoCancellation: true, noiseSuppression: true });
      const cases = {
        '5 ms at 48 kHz': [48000, 1, 240],
        '480 samples at 44.1 kHz': [44100, 1, 480],
        'rate 0': [0, 1, 480],
        '9 channels': [48000, 9, 480],
        'rate 7000': [7000, 1, 70],
      };
      const results = {};
      const attempt = (name, fn) => {
        try { fn(); results[name] = 'no error'; }
        catch (e) { results[name] = { name: e.name, property: e.property, expected: e.expected, received: e.received, message: e.message }; }
      };
      for (const [name, [sampleRate, channels, samplesPerChannel]] of Object.entries(cases)) {
        const frame = { data: new Int16Array(samplesPerChannel * channels), sampleRate, channels, samplesPerChannel };
        attempt('forward ' + name, () => apm.processStream(frame));
        attempt('reverse ' + name, () => apm.processReverseStream(frame));
      }
      attempt('data length', () => apm.processStream({ data: new Int16Array(479), sampleRate: 48000, channels: 1, samplesPerChannel: 480 }));
      attempt('float data', () => apm.processStream({ data: new Float32Array(480), sampleRate: 48000, channels: 1, samplesPerChannel: 480 }));
      const good = () => ({ data: new Int16Array(480), sampleRate: 48000, channels: 1, samplesPerChannel: 480 });
      apm.processStream(good());
      apm.close();
      attempt('closed forward', () => apm.processStream(good()));
      attempt('closed reverse', () => apm.processReverseStream(good()));
      attempt('closed delay', () => apm.setStreamDelayMs(10));
      // Alive: a new module still processes a valid frame after all of the above.
      const next = new AudioProcessingModule({ echoCancellation: true });
      next.processReverseStream(good());
      next.processStream(good());
      next.close();
      results.alive = true;
      console.log(JSON.stringify(results));
    `);
    expect(child.stderr).toBe('');
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
    const results = child.json();
    expect(results.alive).toBe(true);
    for (const dir of ['forward', 'reverse']) {
      expect(results[`${dir} 5 ms at 48 kHz`]).toMatchObject({
        name: 'InvalidAudioFrameError',
        property: 'samplesPerChannel',
        expected: 480,
        received: 240,
      });
      expect(results[`${dir} 480 samples at 44.1 kHz`]).toMatchObject({
        name: 'InvalidAudioFrameError',
        property: 'samplesPerChannel',
        expected: 441,
        received: 480,
      });
      for (const [name, received] of [
        ['rate 0', 0],
        ['rate 7000', 7000],
      ] as const) {
        expect(results[`${dir} ${name}`]).toMatchObject({
          name: 'InvalidAudioFrameError',
          property: 'sampleRate',
          expected: [...APM_SAMPLE_RATES],
          received,
        });
      }
      expect(results[`${dir} 9 channels`]).toMatchObject({
        name: 'InvalidAudioFrameError',
        property: 'channels',
        expected: '1..8',
        received: 9,
      });
    }
    expect(results['data length']).toMatchObject({
      property: 'dataLength',
      expected: 480,
      received: 479,
    });
    expect(results['float data']).toMatchObject({ property: 'data', received: 'Float32Array' });
    for (const name of ['closed forward', 'closed reverse', 'closed delay']) {
      expect(results[name]).toMatchObject({ name: 'ModuleClosedError' });
    }
  });

  it('control: the same 5 ms frame sent to the native module directly kills the process', () => {
    const child = runChild(`
      const ffi = await import('@livekit/rtc-ffi-bindings');
      const send = (message) => ffi.FfiResponse.fromBinary(ffi.livekitFfiRequest(new ffi.FfiRequest({ message }).toBinary()));
      const id = send({ case: 'newApm', value: { echoCancellerEnabled: true, noiseSuppressionEnabled: false, highPassFilterEnabled: false, gainControllerEnabled: false } }).message.value.apm.handle.id;
      const data = new Int16Array(240);
      send({ case: 'apmProcessStream', value: { apmHandle: id, dataPtr: ffi.livekitRetrievePtr(new Uint8Array(data.buffer)), size: 480, sampleRate: 48000, numChannels: 1 } });
      console.log('survived');
    `);
    expect(child.stdout).not.toContain('survived');
    expect(child.signal).toBe('SIGABRT');
  });

  it('accepts every listed rate with 1 to 8 channels in both directions (110 samples at 11.025 kHz)', () => {
    expect(apmFrameSamples(44100)).toBe(441);
    expect(apmFrameSamples(11025)).toBe(110);
    using apm = new AudioProcessingModule({
      echoCancellation: true,
      noiseSuppression: true,
      highPassFilter: true,
      autoGainControl: true,
    });
    for (const sampleRate of APM_SAMPLE_RATES) {
      for (let channels = 1; channels <= 8; channels++) {
        const samplesPerChannel = apmFrameSamples(sampleRate);
        const frame = () => ({
          data: new Int16Array(samplesPerChannel * channels),
          sampleRate,
          channels,
          samplesPerChannel,
        });
        apm.processReverseStream(frame());
        apm.processStream(frame());
      }
    }
    expect(apm.stats.streamFrames).toBe(APM_SAMPLE_RATES.length * 8);
  });

  it('turns native failures into AudioProcessingError', () => {
    // The class never lets such requests through, so send them the way it does: through callApm.
    const raw = (apmHandle: bigint, sampleRate: number) =>
      new FfiRequest({
        message: {
          case: 'apmProcessStream',
          value: { apmHandle, dataPtr: 0n, size: 140, sampleRate, numChannels: 1 },
        },
      }).toBinary();
    // An unknown handle: the native module throws.
    const unknown = (() => {
      try {
        callApm('processStream', raw(2n ** 60n, 7000), STREAM_OK);
      } catch (error) {
        return error;
      }
    })();
    expect(unknown).toBeInstanceOf(AudioProcessingError);
    expect((unknown as AudioProcessingError).nativeMessage).toMatch(/handle not found/);
    expect((unknown as Error).cause).toBeInstanceOf(Error);
    // A rate the native module rejects: it answers with an error message.
    const id = FfiResponse.fromBinary(
      livekitFfiRequest(
        new FfiRequest({
          message: {
            case: 'newApm',
            value: {
              echoCancellerEnabled: true,
              noiseSuppressionEnabled: false,
              highPassFilterEnabled: false,
              gainControllerEnabled: false,
            },
          },
        }).toBinary(),
      ),
    ).message.value as { apm: { handle: { id: bigint } } };
    const handle = new FfiHandle(id.apm.handle.id);
    const data = new Int16Array(70);
    const request = new FfiRequest({
      message: {
        case: 'apmProcessStream',
        value: {
          apmHandle: handle.handle,
          dataPtr: livekitRetrievePtr(new Uint8Array(data.buffer)),
          size: data.byteLength,
          sampleRate: 7000,
          numChannels: 1,
        },
      },
    }).toBinary();
    expect(() => callApm('processStream', request, STREAM_OK)).toThrow(
      /processStream failed in the native audio processing module: .*Failed to process stream/,
    );
    handle.dispose();
  });
});

describe('AudioProcessingModule', () => {
  it('processes a frame whose data is a subarray exactly where the view lies', () => {
    const options = { highPassFilter: true, noiseSuppression: true };
    using onView = new AudioProcessingModule(options);
    using onOwn = new AudioProcessingModule(options);
    const signal = mixInt16(sineInt16(30, RATE, sec(1), -10), whiteNoiseInt16(sec(1), -30, 5));
    // One big buffer with guard samples around each frame's view (byteOffset != 0).
    const big = new Int16Array(FRAME + 200);
    let changed = 0;
    for (let at = 0; at + FRAME <= signal.length; at += FRAME) {
      big.fill(12345);
      big.set(signal.subarray(at, at + FRAME), 100);
      const view = big.subarray(100, 100 + FRAME);
      const own = signal.slice(at, at + FRAME);
      // An rtc-node AudioFrame on the view: its own protoInfo() would send the buffer's first samples.
      onView.processStream(new AudioFrame(view, RATE, 1, FRAME));
      onOwn.processStream({ data: own, sampleRate: RATE, channels: 1, samplesPerChannel: FRAME });
      expect(Array.from(view)).toEqual(Array.from(own));
      expect(big.subarray(0, 100).every((v) => v === 12345)).toBe(true);
      expect(big.subarray(100 + FRAME).every((v) => v === 12345)).toBe(true);
      for (let i = 0; i < FRAME; i++) if (own[i] !== signal[at + i]) changed++;
    }
    // The processing really changed the audio, so equal outputs are not two untouched copies.
    expect(changed).toBeGreaterThan(signal.length / 2);
  });

  it('clamps stream delays outside 0..500 ms visibly, without throwing', () => {
    using apm = new AudioProcessingModule({ echoCancellation: true });
    const warnings: unknown[] = [];
    apm.on('warning', (w) => warnings.push(w));
    apm.setStreamDelayMs(40);
    expect(apm.streamDelayMs).toBe(40);
    apm.setStreamDelayMs(40.4);
    expect(apm.streamDelayMs).toBe(40);
    apm.setStreamDelayMs(500);
    expect(apm.stats.delayClamps).toBe(0);
    apm.setStreamDelayMs(750);
    expect(apm.streamDelayMs).toBe(500);
    apm.setStreamDelayMs(-20);
    expect(apm.streamDelayMs).toBe(0);
    apm.setStreamDelayMs(Number.NaN);
    expect(apm.streamDelayMs).toBe(0);
    expect(apm.stats.delayClamps).toBe(3);
    expect(warnings).toEqual([
      expect.objectContaining({ code: 'stream-delay-clamped', requestedMs: 750, appliedMs: 500 }),
      expect.objectContaining({ code: 'stream-delay-clamped', requestedMs: -20, appliedMs: 0 }),
      expect.objectContaining({
        code: 'stream-delay-clamped',
        requestedMs: Number.NaN,
        appliedMs: 0,
      }),
    ]);
  });

  it('reports its options and counters, and closes idempotently (also through Symbol.dispose)', () => {
    const apm = new AudioProcessingModule({ noiseSuppression: true });
    expect(apm.options).toEqual({
      echoCancellation: false,
      noiseSuppression: true,
      highPassFilter: false,
      autoGainControl: false,
    });
    const frame = {
      data: new Int16Array(160),
      sampleRate: 16000,
      channels: 1,
      samplesPerChannel: 160,
    };
    apm.processReverseStream(frame);
    apm.processStream(frame);
    apm.processStream(frame);
    expect(apm.stats).toEqual({ streamFrames: 2, reverseStreamFrames: 1, delayClamps: 0 });
    expect(apm.closed).toBe(false);
    apm[Symbol.dispose]();
    expect(apm.closed).toBe(true);
    apm.close();
    expect(() => apm.processStream(frame)).toThrow(ModuleClosedError);
  });

  it('1000 create/process/close cycles grow RSS by < 20 MB', () => {
    const child = runChild(
      `
      const { AudioProcessingModule } = await import('./src/apm.ts');
      const frame = () => ({ data: new Int16Array(960), sampleRate: 48000, channels: 2, samplesPerChannel: 480 });
      const cycle = () => {
        const apm = new AudioProcessingModule({ echoCancellation: true, noiseSuppression: true, highPassFilter: true, autoGainControl: true });
        apm.processReverseStream(frame());
        apm.setStreamDelayMs(20);
        apm.processStream(frame());
        apm.close();
      };
      const rss = () => { globalThis.gc(); return process.memoryUsage().rss; };
      for (let i = 0; i < 100; i++) cycle();
      const before = rss();
      for (let i = 0; i < 1000; i++) cycle();
      const after = rss();
      console.log(JSON.stringify({ before, after }));
    `,
      ['--expose-gc'],
    );
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const { before, after } = child.json();
    const growthMb = (after - before) / 2 ** 20;
    console.log(`RSS growth over 1000 cycles: ${growthMb.toFixed(1)} MiB`);
    expect(growthMb).toBeLessThan(20);
  });

  it('shares the native module with an initialised rtc-node SDK', () => {
    const child = runChild(`
      const rtc = await import('@livekit/rtc-node');
      const { AudioProcessingModule } = await import('./src/apm.ts');
      // An SDK object: rtc-node initialises the FFI (its own event callback) here.
      const resampler = new rtc.AudioResampler(48000, 16000, 1);
      const apm = new AudioProcessingModule({ echoCancellation: true, highPassFilter: true });
      const frame = rtc.AudioFrame.create(48000, 1, 480);
      frame.data.fill(1000);
      apm.processReverseStream(frame);
      apm.processStream(frame);
      const resampled = [...resampler.push(frame), ...resampler.flush()].reduce((n, f) => n + f.samplesPerChannel, 0);
      apm.close();
      resampler.close();
      await rtc.dispose();
      console.log(JSON.stringify({ processed: apm.stats.streamFrames, resampled }));
    `);
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
    expect(child.json()).toEqual({ processed: 1, resampled: 160 });
  });
});
