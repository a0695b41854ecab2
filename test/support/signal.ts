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
export function toneLevelDbfs(samples: Int16Array, sampleRate: number, frequencyHz: number): number {
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
