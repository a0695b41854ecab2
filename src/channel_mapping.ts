/**
 * Maps interleaved int16 audio from one channel layout to another:
 * - `pick` set: that source channel alone, copied to every output channel;
 * - same count: unchanged (the input array itself is returned);
 * - to mono: the average of all source channels (a downmix that cannot clip);
 * - from mono: the one channel copied to every output channel;
 * - otherwise: the first `to` channels, the last one repeated when the source has fewer.
 * @param samples interleaved input, a whole number of samples per channel
 * @param from channels in `samples`
 * @param to channels wanted
 * @param pick zero-based source channel to take alone, if any
 */
export function mapChannels(
  samples: Int16Array,
  from: number,
  to: number,
  pick?: number,
): Int16Array {
  if (pick === undefined && from === to) return samples;
  const frames = samples.length / from;
  const out = new Int16Array(frames * to);
  if (pick !== undefined) {
    for (let i = 0; i < frames; i++) {
      const v = samples[i * from + pick]!;
      for (let c = 0; c < to; c++) out[i * to + c] = v;
    }
  } else if (to === 1) {
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < from; c++) sum += samples[i * from + c]!;
      out[i] = Math.round(sum / from);
    }
  } else {
    for (let i = 0; i < frames; i++) {
      for (let c = 0; c < to; c++) out[i * to + c] = samples[i * from + Math.min(c, from - 1)]!;
    }
  }
  return out;
}
