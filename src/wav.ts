import { readFile, writeFile } from 'node:fs/promises';
import { WavFormatError } from './errors.js';

/** 16-bit PCM audio, as read from or written to a WAV file. */
export interface WavAudio {
  /** Sample rate (Hz). */
  sampleRate: number;
  /** Interleaved channel count. */
  channels: number;
  /** Interleaved int16 samples; `samples.length / channels` frames. */
  samples: Int16Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const HEADER_BYTES = 44;

/**
 * Decodes a WAV file held in memory: 16-bit integer PCM (plain or WAVE_FORMAT_EXTENSIBLE), any rate, any channel
 * count. A data chunk that claims more bytes than the file holds (as streamed WAVs do) is cut to what is there.
 * @throws {WavFormatError} for anything else (not RIFF/WAVE, compressed, float, 8/24/32-bit, no data chunk)
 */
export function decodeWav(bytes: Uint8Array): WavAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string =>
    String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError('not a WAV file (no RIFF/WAVE header)');
  }
  let format: { sampleRate: number; channels: number } | undefined;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError(`fmt chunk too short (${size} bytes)`);
      let code = view.getUint16(body, true);
      if (code === WAVE_FORMAT_EXTENSIBLE && size >= 40) code = view.getUint16(body + 24, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRate = view.getUint32(body + 4, true);
      const bits = view.getUint16(body + 14, true);
      if (code !== WAVE_FORMAT_PCM || bits !== 16) {
        throw new WavFormatError(
          `unsupported WAV encoding: format ${code} with ${bits} bits per sample (only 16-bit PCM is supported)`,
        );
      }
      if (channels < 1 || sampleRate < 1) {
        throw new WavFormatError(`invalid WAV format: ${channels} channels at ${sampleRate} Hz`);
      }
      format = { sampleRate, channels };
    } else if (id === 'data') {
      if (format === undefined) throw new WavFormatError('WAV data chunk before its fmt chunk');
      const available = Math.min(size, bytes.length - body);
      const frameBytes = 2 * format.channels;
      const length = (available - (available % frameBytes)) / 2;
      const samples = new Int16Array(length);
      for (let i = 0; i < length; i++) samples[i] = view.getInt16(body + 2 * i, true);
      return { ...format, samples };
    }
    // Chunks are padded to an even size.
    at = body + size + (size % 2);
  }
  throw new WavFormatError(
    format === undefined ? 'WAV file has no fmt chunk' : 'WAV file has no data chunk',
  );
}

/**
 * Encodes audio as a canonical 44-byte-header 16-bit PCM WAV file.
 * @throws {WavFormatError} for an invalid rate, samples that are not whole frames, or data over 4 GiB
 */
export function encodeWav(audio: WavAudio): Uint8Array {
  const { sampleRate, channels, samples } = audio;
  if (!Number.isInteger(sampleRate) || sampleRate < 1) {
    throw new WavFormatError(`invalid sample rate ${sampleRate} Hz`);
  }
  if (!Number.isInteger(channels) || channels < 1 || samples.length % channels !== 0) {
    throw new WavFormatError(
      `${samples.length} samples are not whole frames of ${channels} channels`,
    );
  }
  const dataBytes = samples.length * 2;
  if (HEADER_BYTES + dataBytes > 0xffffffff) throw new WavFormatError('WAV data exceeds 4 GiB');
  const bytes = new Uint8Array(HEADER_BYTES + dataBytes);
  const view = new DataView(bytes.buffer);
  const put = (at: number, text: string): void => {
    for (let i = 0; i < 4; i++) bytes[at + i] = text.charCodeAt(i);
  };
  put(0, 'RIFF');
  view.setUint32(4, HEADER_BYTES - 8 + dataBytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, WAVE_FORMAT_PCM, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * channels * 2, true);
  view.setUint16(32, channels * 2, true);
  view.setUint16(34, 16, true);
  put(36, 'data');
  view.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) view.setInt16(HEADER_BYTES + 2 * i, samples[i]!, true);
  return bytes;
}

/**
 * Reads a 16-bit PCM WAV file.
 * @param path file path
 * @throws {WavFormatError} for an unsupported or malformed file (the message names the file)
 */
export async function readWav(path: string): Promise<WavAudio> {
  const bytes = await readFile(path);
  try {
    return decodeWav(bytes);
  } catch (error) {
    if (error instanceof WavFormatError) {
      throw new WavFormatError(`${path}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Writes a 16-bit PCM WAV file, replacing any file at `path`.
 * @param path file path
 * @param audio the audio to write
 */
export async function writeWav(path: string, audio: WavAudio): Promise<void> {
  await writeFile(path, encodeWav(audio));
}
