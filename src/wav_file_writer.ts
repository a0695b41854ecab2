import { open, type FileHandle } from 'node:fs/promises';
import { WavFormatError } from './errors.js';
import { wavHeader } from './wav.js';

/**
 * A 16-bit PCM WAV file written while audio arrives (a recording): the header goes first with a size of 0,
 * samples are appended in order without blocking the caller, and {@link close} writes the final sizes into the
 * header, so whatever was written up to then is a valid file.
 */
export class WavFileWriter {
  private pending: Promise<void> = Promise.resolve();
  private dataBytes = 0;
  private failure: unknown;
  /** Whether the file reached the format's size limit (later samples are dropped). */
  private full = false;

  private constructor(
    private readonly file: FileHandle,
    /** Sample rate (Hz). */
    readonly sampleRate: number,
    /** Interleaved channel count. */
    readonly channels: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Creates (or replaces) the file and writes its header, so a path that cannot be written fails here, before
   * any audio is taken.
   * @param path file path
   * @param sampleRate sample rate (Hz)
   * @param channels interleaved channel count
   * @param onError called once if a later write fails (the writer then drops the rest; {@link close} throws it)
   */
  static async create(
    path: string,
    sampleRate: number,
    channels: number,
    onError: (error: unknown) => void,
  ): Promise<WavFileWriter> {
    const file = await open(path, 'w');
    try {
      await file.write(wavHeader(sampleRate, channels, 0), 0, 44, 0);
    } catch (error) {
      await file.close();
      throw error;
    }
    return new WavFileWriter(file, sampleRate, channels, onError);
  }

  /** Samples per channel written (or queued) so far. */
  get frames(): number {
    return this.dataBytes / 2 / this.channels;
  }

  /** Appends interleaved samples (copied, so the caller may reuse its array); returns at once. */
  write(samples: Int16Array): void {
    if (this.failure !== undefined || this.full || samples.length === 0) return;
    if (44 + this.dataBytes + samples.byteLength > 0xffffffff) {
      // About 12 h of 48 kHz mono: the file ends here, and close() still writes a valid header for it.
      this.full = true;
      this.report(
        new WavFormatError('the recording reached the WAV format limit of 4 GiB; it ends there'),
      );
      return;
    }
    const bytes = new Uint8Array(samples.byteLength);
    bytes.set(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength));
    const at = 44 + this.dataBytes;
    this.dataBytes += bytes.length;
    this.pending = this.pending.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await this.file.write(bytes, 0, bytes.length, at);
      } catch (error) {
        this.failure = error;
        this.report(error);
      }
    });
  }

  /** Hands a failure to `onError`; a callback that throws is reported as Node reports an uncaught exception. */
  private report(error: unknown): void {
    try {
      this.onError(error);
    } catch (thrown) {
      process.nextTick(() => {
        throw thrown;
      });
    }
  }

  /**
   * Waits for the queued samples, writes the final sizes into the header and closes the file.
   * @throws the first write error, if any
   */
  async close(): Promise<void> {
    try {
      await this.pending;
      if (this.failure !== undefined) throw this.failure;
      await this.file.write(wavHeader(this.sampleRate, this.channels, this.dataBytes), 0, 44, 0);
    } finally {
      await this.file.close();
    }
  }
}
