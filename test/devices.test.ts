/**
 * The native audio engine against the test sound server (scripts/audio-rig.sh): enumeration, routing to the chosen
 * device, levels, frequency, timing, xrun counters and typed errors. Real PortAudio streams, no mocks.
 */
import { describe, expect, it } from 'vitest';
import {
  AmbiguousDeviceError,
  DeviceCapabilityError,
  DeviceNotFoundError,
  DeviceStream,
  InvalidOptionError,
  MediaDevices,
} from '../src/index.js';
import { concatSamples, feed, Recorder, sleep } from './support/device_io.js';
import { pactl, rigEnv } from './support/rig.js';
import {
  dominantFrequencyHz,
  firstSampleAbove,
  rmsDbfs,
  sineInt16,
  sineRmsDbfs,
} from './support/signal.js';

const RATE = 48000;
const FRAMES_10MS = RATE / 100;
const rig = rigEnv();

/** Plays a tone on `sink` and records `sources` at the same time; returns each source's samples. */
async function playAndRecord(
  sink: string,
  sources: string[],
  tone: Int16Array,
): Promise<Int16Array[]> {
  const inputs = sources.map((device) =>
    DeviceStream.open({
      input: { device, channels: 1 },
      sampleRate: RATE,
      framesPerBuffer: FRAMES_10MS,
    }),
  );
  const output = DeviceStream.open({
    output: { device: sink, channels: 1 },
    sampleRate: RATE,
    framesPerBuffer: FRAMES_10MS,
  });
  try {
    const recorders = inputs.map((s) => new Recorder(s));
    for (const s of inputs) s.start();
    output.start();
    await feed(output, tone);
    await sleep(300); // the ring's and the server's queue play out
    return recorders.map((r) => r.stop());
  } finally {
    output.close();
    for (const s of inputs) s.close();
  }
}

describe('enumeration', () => {
  const md = new MediaDevices();

  it('lists both virtual speakers and both virtual microphones by id and label', () => {
    const outputs = md.listOutputDevices();
    const inputs = md.listInputDevices();
    const out = (id: string) => outputs.find((d) => d.id === id);
    const inp = (id: string) => inputs.find((d) => d.id === id);
    expect(out(rig.speakerA)?.name).toBe('Virtual Speaker A');
    expect(out(rig.speakerB)?.name).toBe('Virtual Speaker B');
    expect(inp(rig.micA)?.name).toBe('Virtual Microphone A');
    expect(inp(rig.micB)?.name).toBe('Virtual Microphone B');
    expect(inp(rig.micA)).toMatchObject({
      hostApi: 'PulseAudio',
      maxInputChannels: 1,
      maxOutputChannels: 0,
    });
    expect(out(rig.speakerA)).toMatchObject({
      maxOutputChannels: 2,
      maxInputChannels: 0,
      defaultSampleRate: 48000,
    });
    // Every device keeps a distinct index, and the index leads back to the same device.
    const all = md.enumerateDevices();
    expect(new Set(all.map((d) => d.index)).size).toBe(all.length);
    expect(md.getOutputDevice(out(rig.speakerB)!.index).id).toBe(rig.speakerB);
  });

  it("reports the sound server's defaults", () => {
    expect(md.defaultOutputDevice()?.id).toBe(rig.speakerA);
    expect(md.defaultInputDevice()?.id).toBe(rig.micA);
    expect(md.listOutputDevices().filter((d) => d.isDefault)).toHaveLength(1);
    expect(md.listInputDevices().filter((d) => d.isDefault)).toHaveLength(1);
  });

  it('chooses by index, id and name substring; unknown and ambiguous choices throw typed errors', () => {
    expect(md.getInputDevice('microphone b').id).toBe(rig.micB);
    expect(md.getOutputDevice(rig.speakerA).name).toBe('Virtual Speaker A');
    const ambiguous = (() => {
      try {
        md.getOutputDevice('Virtual Speaker');
      } catch (e) {
        return e;
      }
    })();
    expect(ambiguous).toBeInstanceOf(AmbiguousDeviceError);
    expect((ambiguous as AmbiguousDeviceError).candidates.join('\n')).toMatch(
      /lk_speaker_a[\s\S]*lk_speaker_b/,
    );
    expect(() => md.getInputDevice('no such microphone')).toThrow(DeviceNotFoundError);
    expect(() => md.getInputDevice(9999)).toThrow(DeviceNotFoundError);
  });
});

describe('devicechange', () => {
  it('fires when a sound-server sink comes and when it goes, only while someone listens', async () => {
    const md = new MediaDevices();
    let changes = 0;
    const onChange = () => changes++;
    md.on('devicechange', onChange);
    const changed = async (from: number): Promise<void> => {
      for (let waited = 0; changes === from; waited += 50) {
        if (waited > 5000) throw new Error('no devicechange within 5 s');
        await sleep(50);
      }
    };
    const sink = 'lk_devicechange_probe';
    // A sink nobody plays to: loading and unloading it is safe for the shared server.
    const module = (await pactl('load-module', 'module-null-sink', `sink_name=${sink}`)).trim();
    let loaded = true;
    try {
      await changed(0);
      expect(md.listOutputDevices().some((d) => d.id === sink)).toBe(true);
      await pactl('unload-module', module);
      loaded = false;
      await changed(1);
      expect(md.listOutputDevices().some((d) => d.id === sink)).toBe(false);
      expect(changes).toBe(2);

      md.off('devicechange', onChange);
      const again = (await pactl('load-module', 'module-null-sink', `sink_name=${sink}`)).trim();
      await sleep(2500);
      await pactl('unload-module', again);
      expect(changes).toBe(2);
    } finally {
      if (loaded) await pactl('unload-module', module);
    }
  });
});

describe('routing and levels', () => {
  for (const [speaker, other] of [
    [rig.speakerA, rig.speakerB],
    [rig.speakerB, rig.speakerA],
  ] as const) {
    it(`a 1 kHz tone on ${speaker} reaches its monitor at the right level and frequency, not the other`, async () => {
      const peakDbfs = -6;
      const [mine, theirs] = await playAndRecord(
        speaker,
        [`${speaker}.monitor`, `${other}.monitor`],
        sineInt16(1000, RATE, RATE * 2, peakDbfs),
      );
      const start = firstSampleAbove(mine!, 1000);
      expect(start).toBeGreaterThanOrEqual(0);
      const steady = mine!.subarray(start + RATE / 4, start + (RATE * 7) / 4);
      expect(Math.abs(rmsDbfs(steady) - sineRmsDbfs(peakDbfs))).toBeLessThan(1);
      expect(Math.abs(dominantFrequencyHz(steady, RATE) - 1000)).toBeLessThan(2);
      expect(rmsDbfs(theirs!)).toBeLessThan(-80);
    });
  }

  it("a capture stream on microphone A receives what is played into A's feed, not B's", async () => {
    const [onA, onB] = await playAndRecord(
      rig.micAFeed,
      [rig.micA, rig.micB],
      sineInt16(440, RATE, RATE, -12),
    );
    const start = firstSampleAbove(onA!, 500);
    expect(start).toBeGreaterThanOrEqual(0);
    const steady = onA!.subarray(start + RATE / 10, start + RATE / 2);
    expect(Math.abs(rmsDbfs(steady) - sineRmsDbfs(-12))).toBeLessThan(1);
    expect(Math.abs(dominantFrequencyHz(steady, RATE) - 440)).toBeLessThan(2);
    expect(rmsDbfs(onB!)).toBeLessThan(-80);
  });
});

describe('timing', () => {
  it('a click captured back has ADC time equal to its DAC time within 5 ms, with plausible latencies', async () => {
    const input = DeviceStream.open({
      input: { device: `${rig.speakerA}.monitor`, channels: 1 },
      sampleRate: RATE,
      framesPerBuffer: FRAMES_10MS,
    });
    const output = DeviceStream.open({
      output: { device: rig.speakerA, channels: 1 },
      sampleRate: RATE,
      framesPerBuffer: FRAMES_10MS,
      captureRendered: true,
    });
    try {
      const latency = { input: input.latency.inputMs, output: output.latency.outputMs };
      expect(latency.input).toBeGreaterThan(0);
      expect(latency.input).toBeLessThan(200);
      expect(latency.output).toBeGreaterThan(0);
      expect(latency.output).toBeLessThan(200);

      const captured: Parameters<Recorder['chunks']['push']>[0][] = [];
      const rendered: typeof captured = [];
      input.on('input', (a) => captured.push(a));
      output.on('rendered', (a) => rendered.push(a));
      input.start();
      output.start();
      const differencesMs: number[] = [];
      for (let click = 0; click < 5; click++) {
        await sleep(150 + 37 * click); // clicks land at different places within a buffer
        const pulse = new Int16Array(48).fill(16000);
        output.write(pulse);
        await sleep(250);
        const dac = findClickTime(rendered.splice(0), 'dacTime');
        const adc = findClickTime(captured.splice(0), 'adcTime');
        expect(dac).not.toBeNull();
        expect(adc).not.toBeNull();
        differencesMs.push((adc! - dac!) * 1000);
      }
      for (const d of differencesMs) expect(Math.abs(d)).toBeLessThan(5);
    } finally {
      input.close();
      output.close();
    }
  });
});

/** The stream-clock time (s) of the first sample above half scale, from the block timing it arrived with. */
function findClickTime(
  chunks: { samples: Int16Array; blocks: { frames: number; adcTime: number; dacTime: number }[] }[],
  clock: 'adcTime' | 'dacTime',
): number | null {
  for (const chunk of chunks) {
    let offset = 0;
    for (const block of chunk.blocks) {
      for (let i = 0; i < block.frames; i++) {
        if (Math.abs(chunk.samples[offset + i]!) > 8000) return block[clock] + i / RATE;
      }
      offset += block.frames;
    }
  }
  return null;
}

describe('xrun counters', () => {
  it(
    'a 30 s full-duplex run at 48 kHz with 10 ms buffers has no xruns',
    { timeout: 60_000 },
    async () => {
      const duplex = DeviceStream.open({
        input: { device: rig.micA, channels: 1 },
        output: { device: rig.speakerA, channels: 1 },
        sampleRate: RATE,
        framesPerBuffer: FRAMES_10MS,
      });
      try {
        let capturedFrames = 0;
        duplex.on('input', (a) => {
          capturedFrames += a.samples.length;
          // Play back what was captured: keeps the output ring fed at the device's own pace.
          duplex.write(a.samples);
        });
        duplex.start();
        // 50 ms of headroom: the output is fed from JavaScript, which a loaded machine may delay now and then.
        duplex.write(new Int16Array(FRAMES_10MS * 5));
        await sleep(30_000);
        const stats = duplex.stats;
        expect(capturedFrames).toBeGreaterThan(RATE * 29);
        const xruns = {
          inputOverflows: stats.inputOverflows,
          inputUnderflows: stats.inputUnderflows,
          outputUnderflows: stats.outputUnderflows,
          inputRingOverruns: stats.inputRingOverruns,
          outputRingUnderruns: stats.outputRingUnderruns,
        };
        expect(xruns).toEqual({
          inputOverflows: 0,
          inputUnderflows: 0,
          outputUnderflows: 0,
          inputRingOverruns: 0,
          outputRingUnderruns: 0,
        });
      } finally {
        duplex.close();
      }
    },
  );

  it('counts ring overruns when JavaScript stops draining, and underruns when it stops writing', async () => {
    const duplex = DeviceStream.open({
      input: { device: rig.micA, channels: 1 },
      output: { device: rig.speakerA, channels: 1 },
      sampleRate: RATE,
      framesPerBuffer: FRAMES_10MS,
      ringMs: 100,
    });
    try {
      duplex.start();
      duplex.write(new Int16Array(FRAMES_10MS * 5));
      // No 'input' listener and no readInput(): the 100 ms input ring fills and then overruns.
      await sleep(600);
      const stats = duplex.stats;
      expect(stats.inputRingOverruns).toBeGreaterThan(10);
      expect(stats.inputDroppedFrames).toBe(stats.inputRingOverruns * FRAMES_10MS);
      // The 50 ms written ran out long ago and nothing followed.
      expect(stats.outputRingUnderruns).toBeGreaterThan(10);
      expect(stats.outputSilenceFrames).toBeGreaterThan(RATE / 10);
      // Draining resumes cleanly: what comes out is at most the ring's capacity.
      const drained = duplex.readInput();
      expect(drained!.samples.length).toBeLessThanOrEqual(RATE / 10);
    } finally {
      duplex.close();
    }
  });
});

describe('bad input gets typed errors', () => {
  const open = (options: Parameters<typeof DeviceStream.open>[0]) => () =>
    DeviceStream.open(options);
  const mic = { device: rig.micA, channels: 1 };

  it('unknown device index or id', () => {
    expect(open({ input: { device: 9999, channels: 1 }, sampleRate: RATE })).toThrow(
      DeviceNotFoundError,
    );
    expect(open({ output: { device: 'no_such_sink', channels: 1 }, sampleRate: RATE })).toThrow(
      DeviceNotFoundError,
    );
  });

  it('zero, negative, fractional-garbage and absurd sample rates', () => {
    for (const sampleRate of [0, -48000, Number.NaN, 1e9, 12]) {
      expect(open({ input: mic, sampleRate })).toThrow(InvalidOptionError);
    }
    expect(() => new MediaDevices({ inputSampleRate: 0 })).toThrow(InvalidOptionError);
    // 10 ms of 22050 Hz is 220.5 samples: frames would not be whole.
    expect(() => new MediaDevices({ inputSampleRate: 22050 })).toThrow(/multiple of 100 Hz/);
    expect(() => new MediaDevices({ outputSampleRate: 11025 })).toThrow(InvalidOptionError);
    expect(new MediaDevices({ outputSampleRate: 44100 }).outputSampleRate).toBe(44100);
  });

  it('more channels than the device has, or none', () => {
    expect(open({ input: { device: rig.micA, channels: 2 }, sampleRate: RATE })).toThrow(
      DeviceCapabilityError,
    );
    expect(open({ input: { device: rig.micA, channels: 0 }, sampleRate: RATE })).toThrow(
      InvalidOptionError,
    );
  });

  it('an input stream on an output-only device', () => {
    expect(open({ input: { device: rig.speakerA, channels: 1 }, sampleRate: RATE })).toThrow(
      DeviceCapabilityError,
    );
  });

  it('a closed stream refuses work, and closing twice is harmless', () => {
    const s = DeviceStream.open({ input: mic, sampleRate: RATE });
    s.close();
    s.close();
    expect(() => s.start()).toThrow(/closed/);
    expect(s.closed).toBe(true);
  });
});

export { concatSamples };
