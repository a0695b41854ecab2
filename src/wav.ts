import { readFile, writeFile } from 'node:fs/promises';
import { WavFormatError } from './errors.js';

/** Audio as 16-bit PCM, as read from (converted from the file's encoding) or written to a WAV file. */
export interface WavAudio {
  /** Sample rate (Hz). */
  sampleRate: number;
  /** Interleaved channel count. */
  channels: number;
  /** Interleaved int16 samples; `samples.length / channels` frames. */
  samples: Int16Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const HEADER_BYTES = 44;

/** How one sample of a WAV file is stored, and how to read it as a 16-bit sample. */
interface SampleEncoding {
  /** Bytes per sample. */
  bytes: number;
  /** The sample at byte offset `at`, as int16. */
  read(view: DataView, at: number): number;
}

const toInt16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

const SAMPLE_ENCODINGS: Record<string, SampleEncoding> = {
  // 8-bit WAV is unsigned, centred on 128.
  int8: { bytes: 1, read: (view, at) => (view.getUint8(at) - 128) * 256 },
  int16: { bytes: 2, read: (view, at) => view.getInt16(at, true) },
  int24: {
    bytes: 3,
    read: (view, at) => toInt16((view.getInt8(at + 2) * 65536 + view.getUint16(at, true)) / 256),
  },
  int32: { bytes: 4, read: (view, at) => toInt16(view.getInt32(at, true) / 65536) },
  float32: { bytes: 4, read: (view, at) => toInt16(view.getFloat32(at, true) * 32768) },
};

function sampleEncoding(code: number, bits: number): SampleEncoding | undefined {
  if (code === WAVE_FORMAT_PCM) return SAMPLE_ENCODINGS[`int${bits}`];
  if (code === WAVE_FORMAT_IEEE_FLOAT && bits === 32) return SAMPLE_ENCODINGS.float32;
  return undefined;
}

/**
 * Decodes a WAV file held in memory: 8-, 16-, 24- or 32-bit integer PCM or 32-bit float PCM (plain or
 * WAVE_FORMAT_EXTENSIBLE), any rate, any channel count, converted to 16-bit samples (wider samples rounded, float
 * clipped to full scale). A data chunk that claims more bytes than the file holds (as streamed WAVs do) is cut to
 * what is there.
 * @throws {WavFormatError} for anything else (not RIFF/WAVE, compressed, 64-bit float, no data chunk)
 */
export function decodeWav(bytes: Uint8Array): WavAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number): string =>
    String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError('not a WAV file (no RIFF/WAVE header)');
  }
  let format: { sampleRate: number; channels: number; encoding: SampleEncoding } | undefined;
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
      const encoding = sampleEncoding(code, bits);
      if (encoding === undefined) {
        throw new WavFormatError(
          `unsupported WAV encoding: format ${code} with ${bits} bits per sample ` +
            '(8/16/24/32-bit integer or 32-bit float PCM are supported)',
        );
      }
      if (channels < 1 || sampleRate < 1) {
        throw new WavFormatError(`invalid WAV format: ${channels} channels at ${sampleRate} Hz`);
      }
      format = { sampleRate, channels, encoding };
    } else if (id === 'data') {
      if (format === undefined) throw new WavFormatError('WAV data chunk before its fmt chunk');
      const { sampleRate, channels, encoding } = format;
      const available = Math.min(size, bytes.length - body);
      const frameBytes = encoding.bytes * channels;
      const length = (available - (available % frameBytes)) / encoding.bytes;
      const samples = new Int16Array(length);
      for (let i = 0; i < length; i++) samples[i] = encoding.read(view, body + encoding.bytes * i);
      return { sampleRate, channels, samples };
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
  const header = wavHeader(sampleRate, channels, samples.length * 2);
  const bytes = new Uint8Array(HEADER_BYTES + samples.length * 2);
  bytes.set(header);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(HEADER_BYTES + 2 * i, samples[i]!, true);
  return bytes;
}

/**
 * The canonical 44-byte header of a 16-bit PCM WAV file, for a writer that streams the samples after it (and
 * rewrites the header with the final size at the end).
 * @param sampleRate sample rate (Hz)
 * @param channels interleaved channel count
 * @param dataBytes bytes of samples that follow (2 per sample)
 * @throws {WavFormatError} if the file would exceed 4 GiB
 */
export function wavHeader(sampleRate: number, channels: number, dataBytes: number): Uint8Array {
  if (HEADER_BYTES + dataBytes > 0xffffffff) throw new WavFormatError('WAV data exceeds 4 GiB');
  const bytes = new Uint8Array(HEADER_BYTES);
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
  return bytes;
}

/**
 * Reads a WAV file (see {@link decodeWav} for the encodings), as 16-bit samples.
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
