import { parseArgs } from 'node:util';
import { cancelEchoFiles } from '../offline_aec.js';
import { CliUsageError } from './cli_usage_error.js';

/** `lk-audio aec --mic mic.wav --far far.wav --out out.wav`: offline echo cancellation of WAV files. */
export async function runAec(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      mic: { type: 'string' },
      far: { type: 'string' },
      out: { type: 'string' },
      'delay-ms': { type: 'string', default: '0' },
      ns: { type: 'boolean', default: false },
      hpf: { type: 'boolean', default: false },
      agc: { type: 'boolean', default: false },
    },
  });
  if (!values.mic || !values.far || !values.out)
    throw new CliUsageError('--mic, --far and --out are required');
  const delayMs = Number(values['delay-ms']);
  if (!Number.isFinite(delayMs))
    throw new CliUsageError(`--delay-ms must be a number, not ${values['delay-ms']}`);
  const stats = await cancelEchoFiles(values.mic, values.far, values.out, {
    delayMs,
    noiseSuppression: values.ns,
    highPassFilter: values.hpf,
    autoGainControl: values.agc,
  });
  console.log(`wrote ${values.out} (${stats.streamFrames} frames of 10 ms processed)`);
}
