import { AudioFrame, AudioResampler, AudioResamplerQuality } from '@livekit/rtc-node';
import type { WavAudio } from '../wav.js';

/**
 * Audio converted to another sample rate (same channels), with rtc-node's resampler, whole: the resampler's
 * delay is flushed at the end. Offline work: it runs in one go.
 * @param audio the audio to convert
 * @param sampleRate the rate wanted (Hz)
 */
export function resampleWav(audio: WavAudio, sampleRate: number): WavAudio {
  if (audio.sampleRate === sampleRate) return audio;
  const { channels } = audio;
  const resampler = new AudioResampler(
    audio.sampleRate,
    sampleRate,
    channels,
    AudioResamplerQuality.HIGH,
  );
  const parts: Int16Array[] = [];
  try {
    const step = Math.floor(audio.sampleRate / 100) * channels;
    for (let at = 0; at < audio.samples.length; at += step) {
      const data = audio.samples.slice(at, Math.min(at + step, audio.samples.length));
      const frame = new AudioFrame(data, audio.sampleRate, channels, data.length / channels);
      for (const out of resampler.push(frame)) parts.push(out.data);
    }
    for (const out of resampler.flush()) parts.push(out.data);
  } finally {
    resampler.close();
  }
  const samples = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    samples.set(p, at);
    at += p.length;
  }
  return { sampleRate, channels, samples };
}
