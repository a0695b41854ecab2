#!/usr/bin/env node
/**
 * lk-audio: the machine's audio devices from the command line, for LiveKit users.
 * Each command lives in its own file under src/cli/; this file only dispatches.
 */
import { runAec } from './aec_command.js';
import { runDevices } from './devices_command.js';
import { runEchoTest } from './echo_test_command.js';
import { parseJoinArgs, runJoin } from './join_command.js';
import { runMeters } from './meters_command.js';
import { runPlay } from './play_command.js';
import { runRecord } from './record_command.js';
import { CliUsageError } from './cli_usage_error.js';

const USAGE = `lk-audio <command> [options]

Commands:
  devices [--json]                          list input and output devices, marking the defaults
  play <file.wav> [--device <speaker>]      play a WAV file in real time
  meters [--device <mic>] [--seconds N] [--interval-ms 100] [--json]
                                            the microphone's level, one line per interval
  record <out.wav> [--seconds 5] [--device <mic>] [--rate 48000] [--ns] [--hpf] [--agc]
                                            record the microphone as a capture publishes it
  echo-test [--input <mic>] [--output <speaker>] [--seconds 6] [--json]
                                            how loud the echo comes back, and how much AEC removes
  aec --mic <wav> --far <wav> --out <wav>   remove the far end's echo from a microphone recording
      [--delay-ms <ms>] [--ns] [--hpf] [--agc]
  join --url <wss://...> (--token <jwt> | --room <name> [--identity <id>]) [--input <mic>] [--output <speaker>]
      [--no-aec] [--no-ns] [--no-hpf] [--no-agc] [--json]
                                            join a LiveKit room with the microphone and speaker (Ctrl-C
                                            leaves); without --token, LIVEKIT_API_KEY/SECRET mint one

Set LK_AUDIO_DEBUG=1 to see PortAudio's device-probe messages.`;

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  devices: runDevices,
  play: runPlay,
  meters: runMeters,
  record: runRecord,
  'echo-test': runEchoTest,
  aec: runAec,
  join: (args) => runJoin(parseJoinArgs(args)),
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
    // node:util parseArgs rejects unknown options and missing values with ERR_PARSE_ARGS_* codes.
    const parseError = String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
    if (error instanceof CliUsageError || parseError) {
      console.error(`lk-audio ${command}: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`lk-audio ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
