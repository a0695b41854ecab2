/**
 * Reads what an AudioSource publishes, the way a room's subscriber would (AudioSource -> LocalAudioTrack ->
 * AudioStream, no server), keeping only counts, so that it can run for hours in bounded memory.
 */
import { AudioStream, LocalAudioTrack, type AudioFrame, type AudioSource } from '@livekit/rtc-node';

/** Counts the frames an AudioSource publishes, until {@link close}. */
export class PublishedReader {
  /** Frames received so far. */
  frames = 0;
  /** Frames received that were not 10 ms long. */
  oddFrames = 0;
  private readonly track: LocalAudioTrack;
  private readonly reader: ReadableStreamDefaultReader<AudioFrame>;
  private readonly reading: Promise<void>;

  constructor(source: AudioSource, sampleRate: number, numChannels: number) {
    this.track = LocalAudioTrack.createAudioTrack('soak-published', source);
    this.reader = new AudioStream(this.track, { sampleRate, numChannels }).getReader();
    this.reading = this.read(sampleRate / 100);
  }

  private async read(frameSize: number): Promise<void> {
    for (;;) {
      const { done, value } = await this.reader.read();
      if (done) return;
      this.frames++;
      if (value.samplesPerChannel !== frameSize) this.oddFrames++;
    }
  }

  /**
   * Stops reading and closes the stream and the track; the AudioSource stays open (its owner closes it).
   * @throws the error the stream failed with, if it did
   */
  async close(): Promise<void> {
    await this.reader.cancel();
    try {
      await this.reading;
    } finally {
      await this.track.close(false);
    }
  }
}
