import { Command } from '@commander-js/extra-typings';
import type { AudioDevice } from '../audio_device.js';
import { MediaDevices } from '../media_devices.js';
import type { MediaDevicesWarning } from '../device_change_watcher.js';
import { round1 } from './levels.js';
import { waitForInterrupt } from './interrupt.js';

/** Widest line of the table (characters): fits an 80-column terminal. */
const WIDTH = 79;

/** Cuts `text` to `width` characters (the last one an ellipsis when cut) and pads it to `width`. */
function cell(text: string, width: number): string {
  return (text.length > width ? `${text.slice(0, width - 1)}…` : text).padEnd(width);
}

/** A table of devices, with a header row, no wider than 80 columns (long ids and names are cut). */
function table(devices: readonly AudioDevice[], input: boolean): string[] {
  const idWidth = Math.min(30, Math.max(2, ...devices.map((d) => d.id.length)));
  // "* 12  " + id + "  " + name + "  " + ch + "  " + kHz + "  " + api
  const fixed = 1 + 1 + 3 + 2 + 2 + 2 + 3 + 2 + 5 + 2 + 10;
  const nameWidth = WIDTH - fixed - idWidth;
  const row = (
    mark: string,
    index: string,
    id: string,
    name: string,
    ch: string,
    khz: string,
    api: string,
  ) =>
    `${mark} ${index.padStart(3)}  ${cell(id, idWidth)}  ${cell(name, nameWidth)}  ${ch.padStart(3)}  ` +
    `${khz.padStart(5)}  ${cell(api, 10)}`.trimEnd();
  const lines = [row(' ', '#', 'ID', input ? 'INPUT' : 'OUTPUT', 'CH', 'KHZ', 'API')];
  for (const d of devices) {
    const channels = input ? d.maxInputChannels : d.maxOutputChannels;
    lines.push(
      row(
        d.isDefault ? '*' : ' ',
        String(d.index),
        d.id,
        d.name,
        String(channels),
        String(d.defaultSampleRate / 1000),
        d.hostApi,
      ),
    );
  }
  if (devices.length === 0) lines.push('  (none)');
  return lines;
}

/** A device for JSON: latencies rounded to 0.1 ms. */
function jsonDevice(d: AudioDevice): AudioDevice {
  return {
    ...d,
    defaultLowInputLatencyMs: round1(d.defaultLowInputLatencyMs),
    defaultHighInputLatencyMs: round1(d.defaultHighInputLatencyMs),
    defaultLowOutputLatencyMs: round1(d.defaultLowOutputLatencyMs),
    defaultHighOutputLatencyMs: round1(d.defaultHighOutputLatencyMs),
  };
}

interface DeviceList {
  inputs: AudioDevice[];
  outputs: AudioDevice[];
}

function list(md: MediaDevices): DeviceList {
  return {
    inputs: md.listInputDevices().map(jsonDevice),
    outputs: md.listOutputDevices().map(jsonDevice),
  };
}

/** One change between two device lists: a device that came or went, or a new default. */
interface DeviceChange {
  change: 'added' | 'removed' | 'default';
  kind: 'input' | 'output';
  id: string;
  name: string;
}

function changes(before: DeviceList, after: DeviceList): DeviceChange[] {
  const out: DeviceChange[] = [];
  for (const kind of ['input', 'output'] as const) {
    const was = before[`${kind}s`];
    const now = after[`${kind}s`];
    const ids = (l: AudioDevice[]) => new Set(l.map((d) => d.id));
    const wasIds = ids(was);
    const nowIds = ids(now);
    for (const d of now)
      if (!wasIds.has(d.id)) out.push({ change: 'added', kind, id: d.id, name: d.name });
    for (const d of was)
      if (!nowIds.has(d.id)) out.push({ change: 'removed', kind, id: d.id, name: d.name });
    const def = now.find((d) => d.isDefault);
    if (def && was.find((d) => d.isDefault)?.id !== def.id) {
      out.push({ change: 'default', kind, id: def.id, name: def.name });
    }
  }
  return out;
}

function printList(devices: DeviceList): void {
  for (const line of table(devices.inputs, true)) console.log(line);
  console.log('');
  for (const line of table(devices.outputs, false)) console.log(line);
  console.log('* default. Choose a device by #, by ID (also as [ID]) or by part of its name.');
}

/** `lk-audio devices [--json] [--watch]`: inputs and outputs, defaults marked with `*`; `--watch` prints changes. */
export function devicesCommand() {
  return new Command('devices')
    .description('list input and output devices, marking the defaults')
    .option('--json', 'print JSON (with --watch: one line per change)')
    .option('--watch', 'then print each change (a device came or went, a new default) until Ctrl-C')
    .action(async (options) => {
      const md = new MediaDevices();
      let current = list(md);
      if (options.json && !options.watch) console.log(JSON.stringify(current, null, 2));
      else if (!options.json) printList(current);
      if (!options.watch) return;
      if (!options.json) console.log('watching for changes; Ctrl-C ends');
      const onChange = (): void => {
        const next = list(md);
        for (const c of changes(current, next)) {
          if (options.json) console.log(JSON.stringify(c));
          else console.log(`${c.change.padEnd(8)} ${c.kind.padEnd(6)}  ${c.id}  (${c.name})`);
        }
        current = next;
      };
      md.on('devicechange', onChange);
      // The device watcher does not keep the process alive (by design); this does, until Ctrl-C.
      const keepAlive = setInterval(() => {}, 3_600_000);
      try {
        // A stalled or lost sound server is reported and watched through; it comes back by itself.
        const onWarning = (w: MediaDevicesWarning): void => console.error(`warning: ${w.message}`);
        md.on('warning', onWarning);
        try {
          await waitForInterrupt();
        } finally {
          md.off('warning', onWarning);
        }
      } finally {
        clearInterval(keepAlive);
        md.off('devicechange', onChange);
      }
    });
}
