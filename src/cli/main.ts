#!/usr/bin/env node
/**
 * lk-audio: the machine's audio devices from the command line, for LiveKit users. The commands and their options
 * are in program.ts (each command in its own file); this file runs them and turns errors into exit statuses:
 * 0 done (also help and --version), 2 a command line it cannot run (one line, then a hint), 1 anything else (one
 * line).
 */
import { readFileSync } from 'node:fs';
import { CommanderError } from '@commander-js/extra-typings';
import { CliUsageError } from './cli_usage_error.js';
import { printPackageWarnings } from './package_warnings.js';
import { lkAudioProgram } from './program.js';

/** The package's version (package.json sits two levels up from src/cli/ and from dist/cli/). */
function packageVersion(): string {
  const json = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(json) as { version: string }).version;
}

/** Commander's message in one line: `--seconds 0: must be ...` instead of `error: option '--seconds <s>' ...`. */
function commanderMessage(error: CommanderError): string {
  const text = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  const invalid = /^option '(\S+)[^']*' argument '(.*)' is invalid\. (.*)$/.exec(text);
  return invalid ? `${invalid[1]} ${invalid[2]}: ${invalid[3]}` : text;
}

async function main(argv: string[]): Promise<number> {
  const program = lkAudioProgram(packageVersion());
  if (argv.length === 0) {
    program.outputHelp();
    return 0;
  }
  const command = program.commands.find((c) => c.name() === argv[0])?.name();
  const who = command ? `lk-audio ${command}` : 'lk-audio';
  // Commander answers `help <unknown>` with the whole overview on stderr: one line instead.
  const asked = argv[0] === 'help' ? argv[1] : undefined;
  if (asked !== undefined && !program.commands.some((c) => c.name() === asked)) {
    console.error(`lk-audio help: unknown command '${asked}'`);
    console.error('run "lk-audio --help" for the commands');
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version exit 0.
      if (error.exitCode === 0) return 0;
      console.error(`${who}: ${commanderMessage(error)}`);
      console.error(`run "${who} --help" for its usage`);
      return 2;
    }
    if (error instanceof CliUsageError) {
      console.error(`${who}: ${error.message}`);
      console.error(error.hint ?? `run "${who} --help" for its usage`);
      return 2;
    }
    console.error(`${who}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

printPackageWarnings();
process.exitCode = await main(process.argv.slice(2));
