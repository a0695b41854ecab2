/**
 * Every public function and option given bad input (wrong types, NaN, negative, huge, closed objects, double close,
 * a video track, the same track twice, an unknown track): a typed error or a documented no-op, never an abort; no
 * device stream, file or thread is left behind.
 */
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  LocalVideoTrack,
  VideoSource,
} from '@livekit/rtc-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { nativeBinding } from '../src/backend/native_binding.js';
import {
  AlreadyOpenError,
  DeviceCapabilityError,
  DeviceNotFoundError,
  DeviceStream,
  InvalidOptionError,
  MediaDevices,
  MediaDevicesError,
  type DeviceStreamOptions,
  type MediaDevicesOptions,
  type OpenInputOptions,
  type OpenOutputOptions,
} from '../src/index.js';
import { processSample } from './support/process_sample.js';
import { rigEnv } from './support/rig.js';

const rig = rigEnv();
type ErrorClass = new (...args: never[]) => Error;
// Deliberately ill-typed values, as JavaScript callers may pass them.
const bad = <T>(value: unknown): T => value as T;
// By index: a name would match the speaker's monitor source.
const speakerIndex = new MediaDevices().getOutputDevice(rig.speakerA).index;
const micIndex = new MediaDevices().getInputDevice(rig.micA).index;

const constructorCases: [string, MediaDevicesOptions, ErrorClass][] = [
  ['inputSampleRate NaN', { inputSampleRate: NaN }, InvalidOptionError],
  ['inputSampleRate negative', { inputSampleRate: -48000 }, InvalidOptionError],
  ['inputSampleRate huge', { inputSampleRate: 1e9 }, InvalidOptionError],
  ['inputSampleRate a string', { inputSampleRate: bad('48000') }, InvalidOptionError],
  ['inputSampleRate 22050 (no whole 10 ms)', { inputSampleRate: 22050 }, InvalidOptionError],
  ['outputSampleRate 0', { outputSampleRate: 0 }, InvalidOptionError],
  ['numChannels 0', { numChannels: 0 }, InvalidOptionError],
  ['numChannels 1.5', { numChannels: 1.5 }, InvalidOptionError],
  ['numChannels huge', { numChannels: 1e6 }, InvalidOptionError],
  ['blocksize NaN', { blocksize: NaN }, InvalidOptionError],
  ['blocksize negative', { blocksize: -480 }, InvalidOptionError],
  ['blocksize huge', { blocksize: 1e9 }, InvalidOptionError],
];

const inputCases: [string, OpenInputOptions, ErrorClass][] = [
  ['queueCapacity 0', { queueCapacity: 0 }, InvalidOptionError],
  ['queueCapacity NaN', { queueCapacity: NaN }, InvalidOptionError],
  ['queueCapacity a string', { queueCapacity: bad('5') }, InvalidOptionError],
  ['inputChannelIndex negative', { inputChannelIndex: -1 }, InvalidOptionError],
  ['inputChannelIndex NaN', { inputChannelIndex: NaN }, InvalidOptionError],
  ['inputChannelIndex beyond the device', { inputChannelIndex: 5 }, DeviceCapabilityError],
  ['deviceSampleRate NaN', { deviceSampleRate: NaN }, InvalidOptionError],
  ['deviceSampleRate negative', { deviceSampleRate: -1 }, InvalidOptionError],
  ['deviceSampleRate huge', { deviceSampleRate: 1e9 }, InvalidOptionError],
  ['inputDevice unknown', { inputDevice: 'no such mic' }, DeviceNotFoundError],
  ['inputDevice index out of range', { inputDevice: 99999 }, DeviceNotFoundError],
  ['inputDevice an output-only device', { inputDevice: speakerIndex }, DeviceNotFoundError],
  ['followDefault with inputDevice', { followDefault: true }, InvalidOptionError],
  ['followDefault a string', { followDefault: bad('yes') }, InvalidOptionError],
];

const outputCases: [string, OpenOutputOptions, ErrorClass][] = [
  ['bufferMs NaN', { bufferMs: NaN }, InvalidOptionError],
  ['bufferMs negative', { bufferMs: -20 }, InvalidOptionError],
  ['bufferMs huge', { bufferMs: 1e9 }, InvalidOptionError],
  ['latencyCapMs NaN', { latencyCapMs: NaN }, InvalidOptionError],
  ['latencyCapMs 0', { latencyCapMs: 0 }, InvalidOptionError],
  ['latencyCapMs huge', { latencyCapMs: 1e9 }, InvalidOptionError],
  ['outputDevice unknown', { outputDevice: 'no such speaker' }, DeviceNotFoundError],
  ['outputDevice an input-only device', { outputDevice: micIndex }, DeviceNotFoundError],
  ['followDefault with outputDevice', { followDefault: true }, InvalidOptionError],
  ['followDefault a number', { followDefault: bad(1) }, InvalidOptionError],
  ['deviceSampleRate NaN', { deviceSampleRate: NaN }, InvalidOptionError],
  ['deviceSampleRate huge', { deviceSampleRate: 1e9 }, InvalidOptionError],
];

const streamCases: [string, DeviceStreamOptions, ErrorClass][] = [
  ['no direction', { sampleRate: 48000 }, InvalidOptionError],
  [
    'sampleRate NaN',
    { input: { device: rig.micA, channels: 1 }, sampleRate: NaN },
    InvalidOptionError,
  ],
  [
    'sampleRate huge',
    { input: { device: rig.micA, channels: 1 }, sampleRate: 1e9 },
    InvalidOptionError,
  ],
  [
    'channels 0',
    { input: { device: rig.micA, channels: 0 }, sampleRate: 48000 },
    InvalidOptionError,
  ],
  [
    'channels NaN',
    { input: { device: rig.micA, channels: NaN }, sampleRate: 48000 },
    InvalidOptionError,
  ],
  [
    'channels beyond the device',
    { input: { device: rig.micA, channels: 64 }, sampleRate: 48000 },
    DeviceCapabilityError,
  ],
  [
    'framesPerBuffer negative',
    { input: { device: rig.micA, channels: 1 }, sampleRate: 48000, framesPerBuffer: -1 },
    InvalidOptionError,
  ],
  [
    'framesPerBuffer 1.5',
    { input: { device: rig.micA, channels: 1 }, sampleRate: 48000, framesPerBuffer: 1.5 },
    InvalidOptionError,
  ],
  [
    'ringMs NaN',
    { input: { device: rig.micA, channels: 1 }, sampleRate: 48000, ringMs: NaN },
    InvalidOptionError,
  ],
  [
    'ringMs huge',
    { input: { device: rig.micA, channels: 1 }, sampleRate: 48000, ringMs: 1e9 },
    InvalidOptionError,
  ],
  [
    'latencyMs negative',
    { input: { device: rig.micA, channels: 1, latencyMs: -5 }, sampleRate: 48000 },
    InvalidOptionError,
  ],
  [
    'latencyMs a word',
    { input: { device: rig.micA, channels: 1, latencyMs: bad('medium') }, sampleRate: 48000 },
    InvalidOptionError,
  ],
  [
    'input from a speaker',
    { input: { device: rig.speakerA, channels: 1 }, sampleRate: 48000 },
    DeviceCapabilityError,
  ],
];

describe('bad input', () => {
  let streams = 0;
  let before = processSample();
  beforeAll(async () => {
    // Warm-up: the LiveKit runtime, PortAudio and the sound server connection start their threads on first use.
    const md = new MediaDevices();
    const capture = md.openInput({ inputDevice: rig.micA });
    const player = md.openOutput({ outputDevice: rig.speakerA });
    await player.start();
    const source = new AudioSource(48000, 1);
    await player.addTrack(LocalAudioTrack.createAudioTrack('warm-up', source));
    await Promise.all([capture.aclose(), player.aclose(), source.close()]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    streams = nativeBinding().openStreamCount();
    before = processSample();
  });

  it.each(constructorCases)('new MediaDevices: %s', (_, options, type) => {
    expect(() => new MediaDevices(options)).toThrow(type);
  });

  it.each(inputCases)('openInput: %s', (_, options, type) => {
    const md = new MediaDevices();
    expect(() => md.openInput({ inputDevice: rig.micA, ...options })).toThrow(type);
  });

  it.each(outputCases)('openOutput: %s', (_, options, type) => {
    const md = new MediaDevices();
    expect(() => md.openOutput({ outputDevice: rig.speakerA, ...options })).toThrow(type);
  });

  it.each(streamCases)('DeviceStream.open: %s', (_, options, type) => {
    expect(() => DeviceStream.open(options)).toThrow(type);
  });

  it('device lookups: unknown names and indices are DeviceNotFoundError', () => {
    const md = new MediaDevices();
    expect(() => md.getInputDevice('no such mic')).toThrow(DeviceNotFoundError);
    expect(() => md.getOutputDevice(99999)).toThrow(DeviceNotFoundError);
    expect(() => md.getInputDevice(NaN)).toThrow(DeviceNotFoundError);
    expect(() => md.getInputDevice(bad({}))).toThrow(InvalidOptionError);
    expect(() => md.getOutputDevice(bad(null))).toThrow(InvalidOptionError);
  });

  it('setInputDevice / setOutputDevice: wrong types, unknown devices, the wrong direction, closed', async () => {
    const md = new MediaDevices();
    const capture = md.openInput({ inputDevice: rig.micA });
    const player = md.openOutput({ outputDevice: rig.speakerA });
    for (const selector of [undefined, null, {}, () => 0].map((v) => bad<string>(v))) {
      await expect(capture.setInputDevice(selector)).rejects.toThrow(InvalidOptionError);
      await expect(player.setOutputDevice(selector)).rejects.toThrow(InvalidOptionError);
    }
    for (const selector of [NaN, -1, 1e9, 'no such device']) {
      await expect(capture.setInputDevice(selector)).rejects.toThrow(DeviceNotFoundError);
      await expect(player.setOutputDevice(selector)).rejects.toThrow(DeviceNotFoundError);
    }
    await expect(capture.setInputDevice(speakerIndex)).rejects.toThrow(DeviceNotFoundError);
    await expect(player.setOutputDevice(micIndex)).rejects.toThrow(DeviceNotFoundError);
    expect(capture.device.id).toBe(rig.micA);
    expect(player.device.id).toBe(rig.speakerA);
    await Promise.all([capture.aclose(), player.aclose()]);
    await expect(capture.setInputDevice(rig.micB)).rejects.toThrow(MediaDevicesError);
    await expect(player.setOutputDevice(rig.speakerB)).rejects.toThrow(MediaDevicesError);
  });

  it('DeviceStream: wrong samples, the wrong direction, closed, closed twice', () => {
    const s = DeviceStream.open({ input: { device: rig.micA, channels: 1 }, sampleRate: 48000 });
    expect(() => s.write(new Int16Array(480))).toThrow(MediaDevicesError); // no output
    expect(() => s.readRendered()).toThrow(MediaDevicesError);
    s.close();
    s.close(); // a no-op
    expect(() => s.start()).toThrow(MediaDevicesError);
    expect(() => s.readInput()).toThrow(MediaDevicesError);
    expect(() => s.time()).toThrow(MediaDevicesError);
    s.stop(); // a no-op once closed

    const out = DeviceStream.open({
      output: { device: rig.speakerA, channels: 2 },
      sampleRate: 48000,
    });
    expect(() => out.write(bad(new Float32Array(960)))).toThrow(InvalidOptionError);
    expect(() => out.write(new Int16Array(3))).toThrow(InvalidOptionError); // not whole stereo frames
    expect(() => out.readInput()).toThrow(MediaDevicesError);
    out.close();
  });

  it('the cases above leave no device stream, file or thread behind', async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(nativeBinding().openStreamCount()).toBe(streams);
    const after = processSample();
    expect(after.fds).toBeLessThanOrEqual(before.fds);
    expect(after.threads).toBeLessThanOrEqual(before.threads);
  });

  it('InputCapture and OutputPlayer: tracks (video, twice, unknown), streams, closed objects, double close', async () => {
    const md = new MediaDevices();
    const capture = md.openInput({ inputDevice: rig.micA });
    const player = md.openOutput({ outputDevice: rig.speakerA });
    const video = new VideoSource(16, 16);
    const videoTrack = LocalVideoTrack.createVideoTrack('video', video);
    await expect(player.addTrack(videoTrack)).rejects.toThrow(InvalidOptionError);
    await expect(player.addTrack(bad({ sid: 'TR_fake' }))).rejects.toThrow(InvalidOptionError);
    const source = new AudioSource(48000, 1);
    const track = LocalAudioTrack.createAudioTrack('audio', source);
    await player.addTrack(track);
    await expect(player.addTrack(track)).rejects.toThrow(MediaDevicesError);
    const other = LocalAudioTrack.createAudioTrack('other', source);
    await player.removeTrack(other); // unknown: a no-op
    await player.removeStream((async function* () {})()); // unknown: a no-op
    const frames = (async function* () {
      yield new AudioFrame(new Int16Array(480), 48000, 1, 480);
    })();
    player.addStream(frames);
    expect(() => player.addStream(frames)).toThrow(MediaDevicesError);
    expect(() => md.openOutput({ outputDevice: rig.speakerA })).toThrow(AlreadyOpenError);
    expect(() => md.openInput({ inputDevice: rig.micB })).toThrow(AlreadyOpenError);
    await player.start();
    await player.start(); // a no-op

    await Promise.all([player.aclose(), capture.aclose()]);
    await Promise.all([player.aclose(), capture.aclose(), player.close(), capture.close()]);
    await expect(player.start()).rejects.toThrow(MediaDevicesError);
    await expect(player.addTrack(track)).rejects.toThrow(MediaDevicesError);
    expect(() => player.addStream(frames)).toThrow(MediaDevicesError);
    await player.removeTrack(track); // closed: a no-op
    expect(player.stats.sources).toBe(0);
    expect(capture.stats.queueLength).toBe(0);
    await source.close();
    await video.close();
    // (Each LiveKit track starts WebRTC threads and files that live on with it: only device streams are counted.)
    expect(nativeBinding().openStreamCount()).toBe(streams);
  });
});
