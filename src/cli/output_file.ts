import { WavFileWriter } from '../wav_file_writer.js';
import { CliUsageError } from './cli_usage_error.js';

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is not a directory',
};

/**
 * Creates a WAV file named on the command line for streaming, before any audio is taken.
 * @param onError called if a later write fails
 * @throws {CliUsageError} when the path cannot be written
 */
export async function createOutputWav(
  path: string,
  sampleRate: number,
  channels: number,
  onError: (error: unknown) => void,
): Promise<WavFileWriter> {
  try {
    return await WavFileWriter.create(path, sampleRate, channels, onError);
  } catch (error) {
    const reason = FILE_ERRORS[String((error as NodeJS.ErrnoException).code)];
    if (reason)
      throw new CliUsageError(`cannot write ${path}: ${reason}`, 'give a path that can be written');
    throw error;
  }
}
