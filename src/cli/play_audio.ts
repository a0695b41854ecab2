import type { AudioFrame } from '@livekit/rtc-node';
import type { OutputPlayer } from '../output_player.js';
import type { WavAudio } from '../wav.js';
import { wavFrames } from '../wav_frames.js';
import { levelsDbfs } from './levels.js';
import { progressText } from './progress.js';
import { StatusLine } from './status_line.js';

/** Device audio the player renders before a file starts (ms): the host's start-up prefill, played as silence. */
const START_UP_MS = 50;

/**
 * Resolves once the device has played {@link START_UP_MS} of the player's silence. A host asks for more than the
 * player's buffer when it starts (PulseAudio's ALSA plugin takes three 10 ms blocks at once for a two-block
 * buffer); that underrun is start-up, not a gap in the audio, so it falls here, before the file.
 */
async function startUp(player: OutputPlayer): Promise<void> {
  await player.start();
  const frames = (player.sampleRate * START_UP_MS) / 1000;
  await new Promise<void>((resolve, reject) => {
    player.once('error', reject);
    const poll = (): void => {
      if (player.stats.renderedFrames >= frames) {
        player.off('error', reject);
        resolve();
      } else setTimeout(poll, 10);
    };
    poll();
  });
}

/**
 * Plays decoded audio on a speaker in real time, drawing progress on a terminal.
 * @returns underruns counted while the audio played (after the device's start-up)
 */
export async function playAudio(
  player: OutputPlayer,
  audio: WavAudio,
  verb: string,
): Promise<{ underruns: number }> {
  await startUp(player);
  const before = player.stats.underruns;
  const renderedBefore = player.stats.renderedFrames;
  const total = audio.samples.length / audio.channels / audio.sampleRate;
  const status = new StatusLine();
  const draw = (): void => {
    const elapsed = Math.min(
      total,
      (player.stats.renderedFrames - renderedBefore) / player.sampleRate,
    );
    const end = Math.round(elapsed * audio.sampleRate) * audio.channels;
    const recent = audio.samples.subarray(
      Math.max(0, end - (audio.sampleRate / 10) * audio.channels),
      end,
    );
    status.update(progressText(verb, elapsed, total, levelsDbfs(recent).rmsDbfs));
  };
  const timer = status.active ? setInterval(draw, 100) : undefined;
  try {
    const frames = wavFrames(audio);
    let onEnded = (_ended: AsyncIterable<AudioFrame>): void => {};
    try {
      await new Promise<void>((resolve, reject) => {
        onEnded = (ended) => {
          if (ended === frames) resolve();
        };
        player.on('streamEnded', onEnded);
        player.once('error', reject);
        player.addStream(frames);
      });
    } finally {
      player.off('streamEnded', onEnded);
    }
    // What the device took is heard within its latency.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    clearInterval(timer);
    status.clear();
  }
  return { underruns: player.stats.underruns - before };
}
