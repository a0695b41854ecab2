import { parseArgs } from 'node:util';
import type { AudioDevice } from '../audio_device.js';
import { MediaDevices } from '../media_devices.js';

function describe(d: AudioDevice, channels: number): string {
  const mark = d.isDefault ? '*' : ' ';
  const rate = `${d.defaultSampleRate / 1000} kHz`;
  return `${mark} ${String(d.index).padStart(3)}  ${d.name}  [${d.id}]  ${channels} ch, ${rate}, ${d.hostApi}`;
}

/** `lk-audio devices [--json]`: inputs and outputs, defaults marked with `*`. */
export async function runDevices(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } } });
  const md = new MediaDevices();
  const inputs = md.listInputDevices();
  const outputs = md.listOutputDevices();
  if (values.json) {
    console.log(JSON.stringify({ inputs, outputs }, null, 2));
    return;
  }
  console.log('Input devices:');
  for (const d of inputs) console.log(describe(d, d.maxInputChannels));
  if (inputs.length === 0) console.log('  (none)');
  console.log('Output devices:');
  for (const d of outputs) console.log(describe(d, d.maxOutputChannels));
  if (outputs.length === 0) console.log('  (none)');
  console.log('* default device. Choose a device by index, by [id], or by part of its name.');
}
