import { AudioFrame } from '@livekit/rtc-node';
import type { WavAudio } from './wav.js';

/**
 * The audio of a WAV file as 10 ms AudioFrames (the last one shorter), ready for
 * {@link OutputPlayer.addStream}: `player.addStream(wavFrames(await readWav('prompt.wav')))`.
 * Each frame owns its samples. Frames at rates that are not a multiple of 100 Hz hold `floor(rate / 100)` samples.
 * @param audio decoded WAV audio
 */
export async function* wavFrames(audio: WavAudio): AsyncGenerator<AudioFrame> {
  const { sampleRate, channels, samples } = audio;
  const step = Math.max(1, Math.floor(sampleRate / 100)) * channels;
  for (let at = 0; at < samples.length; at += step) {
    const data = samples.slice(at, Math.min(at + step, samples.length));
    yield new AudioFrame(data, sampleRate, channels, data.length / channels);
  }
}
