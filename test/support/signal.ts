/**
 * Signal generation and measurement for tests and benchmarks: plain arrays, no devices.
 * Levels are in dBFS where 0 dBFS is a full-scale square wave (a full-scale sine reads -3.01 dBFS).
 */

/** Full scale of int16 samples. */
export const INT16_FULL_SCALE = 32768;

/**
 * A sine tone as interleaved int16 samples.
 * @param frequencyHz tone frequency (Hz)
 * @param sampleRate sample rate (Hz)
 * @param frames length in samples per channel
 * @param peakDbfs peak amplitude (dBFS, e.g. -6 gives a peak of half full scale)
 * @param channels interleaved channel count; every channel carries the tone
 */
export function sineInt16(
  frequencyHz: number,
  sampleRate: number,
  frames: number,
  peakDbfs: number,
  channels = 1,
): Int16Array {
  const amplitude = INT16_FULL_SCALE * 10 ** (peakDbfs / 20);
  const out = new Int16Array(frames * channels);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRate));
    for (let c = 0; c < channels; c++) out[i * channels + c] = Math.max(-32768, Math.min(32767, v));
  }
  return out;
}

/** Takes one channel out of interleaved samples. */
export function channelOf(samples: Int16Array, channels: number, channel: number): Int16Array {
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = samples[i * channels + channel]!;
  return out;
}

/** RMS level of mono int16 samples in dBFS; -Infinity for digital silence. */
export function rmsDbfs(samples: Int16Array, start = 0, end = samples.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += samples[i]! * samples[i]!;
  const n = Math.max(1, end - start);
  return 10 * Math.log10(sum / n / (INT16_FULL_SCALE * INT16_FULL_SCALE));
}

/** Expected RMS in dBFS of a sine with the given peak in dBFS. */
export function sineRmsDbfs(peakDbfs: number): number {
  return peakDbfs - 10 * Math.log10(2);
}

/**
 * Frequency of the dominant tone in mono samples (Hz), to well under 1 Hz for a clean tone of a second or more:
 * a coarse search over the spectrum followed by a golden-section refinement of the DFT magnitude.
 */
export function dominantFrequencyHz(
  samples: Int16Array,
  sampleRate: number,
  minHz = 20,
  maxHz = sampleRate / 2,
): number {
  const n = samples.length;
  const binHz = sampleRate / n;
  const power = (f: number): number => {
    // Goertzel recurrence: DFT power at one arbitrary frequency.
    const w = (2 * Math.PI * f) / sampleRate;
    const coeff = 2 * Math.cos(w);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const s0 = samples[i]! + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
  };
  const coarseStep = Math.max(binHz, (maxHz - minHz) / 2000);
  let best = minHz;
  let bestPower = -1;
  for (let f = minHz; f <= maxHz; f += coarseStep) {
    const p = power(f);
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  let lo = Math.max(minHz, best - coarseStep);
  let hi = Math.min(maxHz, best + coarseStep);
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let k = 0; k < 40; k++) {
    const a = hi - phi * (hi - lo);
    const b = lo + phi * (hi - lo);
    if (power(a) > power(b)) hi = b;
    else lo = a;
  }
  return (lo + hi) / 2;
}

/**
 * Level of one frequency component in dBFS (RMS of that component), from a Goertzel filter over mono samples.
 * Use it to measure a tone in the presence of others.
 */
export function toneLevelDbfs(
  samples: Int16Array,
  sampleRate: number,
  frequencyHz: number,
): number {
  const n = samples.length;
  const w = (2 * Math.PI * frequencyHz) / sampleRate;
  let re = 0;
  let im = 0;
  for (let i = 0; i < n; i++) {
    // A Hann window keeps leakage from other tones far below the levels tests compare.
    const win = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    re += samples[i]! * win * Math.cos(w * i);
    im -= samples[i]! * win * Math.sin(w * i);
  }
  const amplitude = (2 * Math.hypot(re, im)) / (n * 0.5);
  return 20 * Math.log10(amplitude / Math.SQRT2 / INT16_FULL_SCALE);
}

/** Index of the first sample whose magnitude reaches the threshold (int16 units), or -1. */
export function firstSampleAbove(samples: Int16Array, threshold: number, from = 0): number {
  for (let i = from; i < samples.length; i++) if (Math.abs(samples[i]!) >= threshold) return i;
  return -1;
}

/** A deterministic pseudo-random generator (mulberry32) giving uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Gaussian white noise as mono int16 samples, deterministic for a given seed.
 * @param frames length in samples
 * @param rmsDbfs RMS level (dBFS)
 * @param seed generator seed
 */
export function whiteNoiseInt16(frames: number, rmsDbfs: number, seed = 1): Int16Array {
  const random = seededRandom(seed);
  const sigma = INT16_FULL_SCALE * 10 ** (rmsDbfs / 20);
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    // Box-Muller; 1 - u keeps the logarithm finite.
    const g = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    out[i] = Math.max(-32768, Math.min(32767, Math.round(sigma * g)));
  }
  return out;
}

/** A copy of mono int16 samples scaled so that their RMS over the whole array is `targetDbfs` (clipped to int16). */
export function scaleToRmsDbfs(samples: Int16Array, targetDbfs: number): Int16Array {
  const gain = 10 ** ((targetDbfs - rmsDbfs(samples)) / 20);
  return samples.map((s) => Math.max(-32768, Math.min(32767, Math.round(s * gain))));
}

/** Sample-wise sum of int16 arrays (length of the first), clipped to int16. */
export function mixInt16(first: Int16Array, ...others: Int16Array[]): Int16Array {
  const out = new Int16Array(first.length);
  for (let i = 0; i < first.length; i++) {
    let sum = first[i]!;
    for (const other of others) sum += other[i] ?? 0;
    out[i] = Math.max(-32768, Math.min(32767, sum));
  }
  return out;
}

/** A room-like echo path: one direct tap and sparse reflections that decay exponentially. */
export interface EchoPath {
  /** Delay of the direct echo (ms). */
  delayMs: number;
  /** Gain of the direct echo (dB). */
  directGainDb: number;
  /** Length of the reflections after the direct echo (ms). */
  tailMs: number;
  /** Number of reflections in the tail. */
  reflections: number;
  /** Seed of the reflections' times and signs. */
  seed: number;
}

/**
 * What a microphone picks up of mono far-end samples through an {@link EchoPath}: a sparse convolution, the
 * reflections starting at half the direct gain and decaying by 60 dB over the tail.
 */
export function applyEchoPath(far: Int16Array, sampleRate: number, path: EchoPath): Int16Array {
  const random = seededRandom(path.seed);
  const direct = Math.round((path.delayMs * sampleRate) / 1000);
  const directGain = 10 ** (path.directGainDb / 20);
  const tailSamples = Math.round((path.tailMs * sampleRate) / 1000);
  const taps: { at: number; gain: number }[] = [{ at: direct, gain: directGain }];
  for (let k = 0; k < path.reflections; k++) {
    const offset = 1 + Math.floor(random() * tailSamples);
    const sign = random() < 0.5 ? -1 : 1;
    taps.push({
      at: direct + offset,
      gain: sign * 0.5 * directGain * 10 ** ((-3 * offset) / tailSamples),
    });
  }
  const out = new Float64Array(far.length);
  for (const { at, gain } of taps) {
    for (let i = at; i < far.length; i++) out[i]! += gain * far[i - at]!;
  }
  return Int16Array.from(out, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
}

/**
 * Echo return loss enhancement (dB): the energy of the microphone signal over the energy left after echo
 * cancellation, summed over the blocks of [start, end) (samples) whose microphone level reaches `minDbfs`
 * (the blocks that carry echo). Mono int16 samples. Throws when no block carries echo or when the output over
 * those blocks is near-silent ({@link NEAR_SILENT_DBFS}): never +Infinity.
 */
export function erleDb(
  mic: Int16Array,
  out: Int16Array,
  start: number,
  end: number,
  blockSize: number,
  minDbfs: number,
): number {
  let micEnergy = 0;
  let outEnergy = 0;
  let samples = 0;
  for (let b = start; b + blockSize <= end; b += blockSize) {
    if (rmsDbfs(mic, b, b + blockSize) < minDbfs) continue;
    samples += blockSize;
    for (let i = b; i < b + blockSize; i++) {
      micEnergy += mic[i]! * mic[i]!;
      outEnergy += out[i]! * out[i]!;
    }
  }
  return erleFromEnergies(micEnergy, outEnergy, samples, 'erleDb');
}

/**
 * Mean level (dBFS) below which a processed output counts as near-silent: at -100 dBFS fewer than one sample in
 * ten is even 1 LSB away from zero. An echo canceller that mutes everything (or a capture that delivers zeros)
 * gives this, and its "ERLE" would be +Infinity or any figure at all: not a measurement of echo cancellation.
 * Not higher: WebRTC's canceller leaves a residual that measured -92 dBFS over a second of quiet echo on the rig
 * (below 1 LSB RMS, -90.3 dBFS).
 */
export const NEAR_SILENT_DBFS = -100;

/**
 * ERLE (dB) from summed energies over `samples` samples; throws when there is nothing to measure (no echo-bearing
 * samples) or when the output is near-silent (see {@link NEAR_SILENT_DBFS}).
 */
export function erleFromEnergies(
  micEnergy: number,
  outEnergy: number,
  samples: number,
  what: string,
): number {
  if (samples === 0) throw new Error(`${what}: no block reaches the echo threshold`);
  const outDbfs = 10 * Math.log10(outEnergy / samples / (INT16_FULL_SCALE * INT16_FULL_SCALE));
  if (!(outDbfs >= NEAR_SILENT_DBFS)) {
    throw new Error(
      `${what}: the processed output is near-silent (${outDbfs.toFixed(1)} dBFS over ` +
        `${samples} echo-bearing samples, below ${NEAR_SILENT_DBFS.toFixed(1)} dBFS): an output that ` +
        'mutes everything is no measurement of echo cancellation',
    );
  }
  return 10 * Math.log10(micEnergy / outEnergy);
}
