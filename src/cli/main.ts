#!/usr/bin/env node
/**
 * lk-audio: the machine's audio devices from the command line, for LiveKit users.
 * Each command lives in its own file under src/cli/; this file only dispatches.
 */
import { runAec } from './aec_command.js';
import { runDevices } from './devices_command.js';
import { CliUsageError } from './cli_usage_error.js';

const USAGE = `lk-audio <command> [options]

Commands:
  devices [--json]                          list input and output devices, marking the defaults
  aec --mic <wav> --far <wav> --out <wav>   remove the far end's echo from a microphone recording
      [--delay-ms <ms>] [--ns] [--hpf] [--agc]

Set LK_AUDIO_DEBUG=1 to see PortAudio's device-probe messages.`;

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  devices: runDevices,
  aec: runAec,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 1;
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(`lk-audio: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  try {
    await run(args);
    return 0;
  } catch (error) {
    if (error instanceof CliUsageError) {
      console.error(`lk-audio ${command}: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`lk-audio ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
