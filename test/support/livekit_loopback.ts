/**
 * Receives what an rtc-node AudioSource publishes, the way a room would: AudioSource -> LocalAudioTrack ->
 * AudioStream. No server is needed: the local track loops back.
 */
import { AudioStream, LocalAudioTrack, type AudioSource } from '@livekit/rtc-node';
import { concatSamples } from './device_io.js';

/** Everything the source publishes from now on, until `stop()`. */
export class SourceListener {
  /** Samples per channel of each frame received. */
  readonly frameSizes = new Set<number>();
  private readonly chunks: Int16Array[] = [];
  private stopped = false;

  /** Frames received so far. */
  get frames(): number {
    return this.chunks.length;
  }

  constructor(source: AudioSource, sampleRate: number, numChannels: number) {
    const track = LocalAudioTrack.createAudioTrack('loopback', source);
    const stream = new AudioStream(track, { sampleRate, numChannels });
    void (async () => {
      for await (const frame of stream) {
        if (this.stopped) break;
        this.frameSizes.add(frame.samplesPerChannel);
        this.chunks.push(frame.data.slice());
      }
    })();
  }

  /**
   * Stops listening; returns all samples received, interleaved. The stream's reader is left to end by itself:
   * an AudioStream whose source has closed yields nothing more, so awaiting it would hang.
   */
  stop(): Int16Array {
    this.stopped = true;
    return concatSamples(this.chunks);
  }
}
