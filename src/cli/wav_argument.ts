import { WavFormatError } from '../errors.js';
import { readWav, type WavAudio } from '../wav.js';
import { CliUsageError } from './cli_usage_error.js';

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a file',
  EACCES: 'permission denied',
};

/**
 * Reads a WAV file named on the command line.
 * @throws {CliUsageError} when the file is missing, unreadable or not a WAV file this package reads
 */
export async function readWavArgument(path: string): Promise<WavAudio> {
  try {
    return await readWav(path);
  } catch (error) {
    if (error instanceof WavFormatError) {
      throw new CliUsageError(error.message, 'give a WAV file of integer or 32-bit float PCM');
    }
    const reason = FILE_ERRORS[String((error as NodeJS.ErrnoException).code)];
    if (reason) throw new CliUsageError(`${path}: ${reason}`, 'give the path of a WAV file');
    throw error;
  }
}
