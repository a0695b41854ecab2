import { Command } from '@commander-js/extra-typings';
import { aecCommand } from './aec_command.js';
import { devicesCommand } from './devices_command.js';
import { echoTestCommand } from './echo_test_command.js';
import { joinCommand } from './join_command.js';
import { loopbackCommand } from './loopback_command.js';
import { metersCommand } from './meters_command.js';
import { playCommand } from './play_command.js';
import { recordCommand } from './record_command.js';
import { toneCommand } from './tone_command.js';

/**
 * lk-audio's command line: every command with its options, help text and value checks, in one place (what
 * `lk-audio --help`, `lk-audio <command> --help` and `lk-audio help <command>` print). Parsing throws
 * `CommanderError` instead of exiting, and writes no error itself: main.ts prints and exits.
 * @param version the package version, for `--version`
 */
export function lkAudioProgram(version: string) {
  const program = new Command('lk-audio')
    .description("the machine's microphones and speakers for LiveKit, from the command line")
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .addHelpText(
      'after',
      '\nDevices are chosen by #, id or part of the name (see lk-audio devices).\n' +
        "Set LK_AUDIO_DEBUG=1 to see PortAudio's device-probe messages.",
    );
  const commands = [
    devicesCommand(),
    toneCommand(),
    playCommand(),
    recordCommand(),
    metersCommand(),
    loopbackCommand(),
    echoTestCommand(),
    aecCommand(),
    joinCommand(),
  ];
  for (const command of commands) program.addCommand(command.copyInheritedSettings(program));
  return program;
}
