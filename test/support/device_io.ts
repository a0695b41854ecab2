/** Playing and recording through real DeviceStreams, for tests and benchmarks. */
import type { DeviceStream, TimedAudio } from '../../src/index.js';

/** Everything an input stream delivers from now on, until `stop()`. */
export class Recorder {
  readonly chunks: TimedAudio[] = [];
  private readonly listener = (audio: TimedAudio): void => {
    this.chunks.push(audio);
  };

  constructor(private readonly stream: DeviceStream) {
    stream.on('input', this.listener);
  }

  /** Stops recording; returns all samples, interleaved. */
  stop(): Int16Array {
    this.stream.off('input', this.listener);
    return concatSamples(this.chunks.map((c) => c.samples));
  }
}

/** Concatenates int16 buffers. */
export function concatSamples(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Feeds samples to an output stream as its ring drains; resolves when the last sample was queued. */
export function feed(stream: DeviceStream, samples: Int16Array): Promise<void> {
  return new Promise((resolve) => {
    let at = 0;
    const top = (): void => {
      at += stream.write(samples.subarray(at)) * stream.outputChannels;
      if (at >= samples.length) {
        stream.off('writable', top);
        resolve();
      }
    };
    stream.on('writable', top);
    top();
  });
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
