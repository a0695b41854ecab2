import { randomBytes } from 'node:crypto';
import { Command } from '@commander-js/extra-typings';
import {
  DisconnectReason,
  LocalAudioTrack,
  Room,
  RoomEvent,
  TrackPublishOptions,
  TrackSource,
  dispose,
  type AudioFrame,
} from '@livekit/rtc-node';
import { LevelMeter } from '../level_meter.js';
import type { InputCapture } from '../input_capture.js';
import { MediaDevices } from '../media_devices.js';
import { RoomAudioBridge } from '../room_audio_bridge.js';
import { CliUsageError } from './cli_usage_error.js';
import { deviceOptionHelp, resolveDevice } from './device_option.js';
import { JoinError } from './join_error.js';
import { LevelBoard, type LevelRow } from './level_board.js';
import { jsonDbfs } from './levels.js';
import { checkJoinToken, mintJoinToken } from './livekit_token.js';
import { redactSecrets } from './redact_secrets.js';
import { runCleanup } from './run_cleanup.js';

/** Options of `lk-audio join`. */
export interface JoinOptions {
  /** The LiveKit server, `wss://...` (or `ws://`, `https://`, `http://`). */
  url: string;
  /** An access token; when absent one is minted from `LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET`. */
  token?: string;
  /** Room to join, for a minted token. */
  room?: string;
  /** Identity in the room, for a minted token; default `lk-audio-` and six random hex digits. */
  identity?: string;
  /** Microphone: index, id or name substring; default the system's default input. */
  input?: string;
  /** Speaker: index, id or name substring; default the system's default output. */
  output?: string;
  /** Echo cancellation of the microphone. */
  aec: boolean;
  /** Noise suppression of the microphone. */
  ns: boolean;
  /** High-pass filter of the microphone. */
  hpf: boolean;
  /** Automatic gain control of the microphone. */
  agc: boolean;
  /** One JSON line of levels per interval instead of the level board. */
  json: boolean;
}

/** How long joining may take before it is given up (ms): with the clean-up, the command ends within 10 s. */
export const CONNECT_TIMEOUT_MS = 7000;
/** Interval of the level lines (ms). */
export const LEVEL_INTERVAL_MS = 200;

const SCHEMES = new Set(['ws:', 'wss:', 'http:', 'https:']);

/** `--url` checked: a ws(s) or http(s) URL. */
function checkUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliUsageError(
      '--url must be a LiveKit server URL such as wss://example.livekit.cloud',
    );
  }
  if (!SCHEMES.has(parsed.protocol)) {
    throw new CliUsageError(`--url must start with wss://, ws://, https:// or http://`);
  }
  return parsed;
}

/**
 * `lk-audio join --url <url> (--token <jwt> | --room <name> [--identity <id>]) [--input <mic>] [--output <speaker>]
 * [--no-aec] [--no-ns] [--no-hpf] [--no-agc] [--json]`: see {@link runJoin}.
 */
export function joinCommand() {
  return new Command('join')
    .description(
      'join a LiveKit room: publish the microphone (echo cancellation on) and play the others (Ctrl-C leaves)',
    )
    .requiredOption('--url <url>', 'the LiveKit server, wss://...')
    .option(
      '--token <jwt>',
      'an access token (default: minted from LIVEKIT_API_KEY / LIVEKIT_API_SECRET)',
    )
    .option('--room <name>', 'the room, for a minted token')
    .option(
      '--identity <id>',
      'your identity, for a minted token (default: lk-audio- and 6 hex digits)',
    )
    .option('--input <mic>', deviceOptionHelp('audioinput'))
    .option('--output <speaker>', deviceOptionHelp('audiooutput'))
    .option('--no-aec', 'no echo cancellation')
    .option('--no-ns', 'no noise suppression')
    .option('--no-hpf', 'no high-pass filter')
    .option('--no-agc', 'no automatic gain control')
    .option('--json', `one JSON line of levels every ${LEVEL_INTERVAL_MS} ms`, false)
    .addHelpText(
      'after',
      '\nSecrets (the token, LIVEKIT_API_SECRET) are never printed, not even in errors.',
    )
    .action((options) => runJoin(options));
}

/** The token to join with and the identity it is for (unknown for a given token until joined). */
async function joinToken(
  options: JoinOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ token: string; identity?: string }> {
  if (options.token !== undefined) {
    if (options.token === '') throw new CliUsageError('--token is empty');
    checkJoinToken(options.token);
    return { token: options.token };
  }
  const apiKey = env.LIVEKIT_API_KEY;
  const apiSecret = env.LIVEKIT_API_SECRET;
  if (!apiKey || !apiSecret) {
    throw new CliUsageError(
      'give --token, or set LIVEKIT_API_KEY and LIVEKIT_API_SECRET (with --room) to mint one',
    );
  }
  if (!options.room) throw new CliUsageError('--room is required to mint a token');
  const identity = options.identity ?? `lk-audio-${randomBytes(3).toString('hex')}`;
  return {
    token: await mintJoinToken({ apiKey, apiSecret, room: options.room, identity }),
    identity,
  };
}

/**
 * `lk-audio join`: joins a LiveKit room, publishes the microphone (with the processing asked for) and plays every
 * remote participant's audio through one player on the speaker, showing each participant's level and your own,
 * until Ctrl-C, which leaves the room and closes everything.
 * @param env where `LIVEKIT_API_KEY` / `LIVEKIT_API_SECRET` are read when no token is given.
 * @throws CliUsageError for a command line that cannot run; JoinError (one line, secrets redacted) when the token
 *   is malformed or expired, the server cannot be reached or refuses, or the room ends the session; the package's
 *   errors for a device that cannot be opened.
 */
export async function runJoin(
  options: JoinOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const url = checkUrl(options.url);
  const secrets = [options.token, env.LIVEKIT_API_SECRET];
  const redact = (text: string): string => redactSecrets(text, secrets);
  const shownUrl = redact(`${url.protocol}//${url.host}${url.pathname}${url.search}`);
  const { token, identity } = await joinToken(options, env);
  secrets.push(token);

  // Ctrl-C from here on leaves (or stops joining) and closes everything.
  let leave = (): void => {};
  const interrupted = new Promise<void>((resolve) => (leave = resolve));
  const onInterrupt = (): void => leave();
  process.once('SIGINT', onInterrupt);

  let room: Room | undefined;
  let bridge: RoomAudioBridge | undefined;
  let capture: InputCapture | undefined;
  let micTrack: LocalAudioTrack | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const devices = new MediaDevices();
    const speaker = resolveDevice(devices, 'audiooutput', options.output, '--output');
    const microphone = resolveDevice(devices, 'audioinput', options.input, '--input');
    room = new Room();
    const player = devices.openOutput({ outputDevice: speaker.id });
    bridge = new RoomAudioBridge(room, player);
    bridge.on('warning', (warning) => console.error(`lk-audio join: ${redact(warning.message)}`));
    capture = devices.openInput({
      inputDevice: microphone.id,
      enableAec: options.aec,
      noiseSuppression: options.ns,
      highPassFilter: options.hpf,
      autoGainControl: options.agc,
    });
    const localMeter = new LevelMeter();
    capture.on('frame', (frame: AudioFrame) => localMeter.add(frame.data));

    if (!(await connect(room, url.href, token, interrupted, shownUrl, redact))) return;
    const ended = new Promise<void>((_, reject) => {
      room!.on(RoomEvent.Disconnected, (reason) =>
        reject(new JoinError(`the room ended the session (${DisconnectReason[reason] ?? reason})`)),
      );
      capture!.once('error', reject);
      player.once('error', reject);
    });
    const me = room.localParticipant!;
    micTrack = LocalAudioTrack.createAudioTrack('microphone', capture.source);
    await me.publishTrack(
      micTrack,
      new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
    );
    await player.start();

    if (!options.json) {
      console.log(
        `joined room "${room.name ?? options.room ?? ''}" at ${shownUrl} as ${identity ?? me.identity}: ` +
          `microphone ${capture.device.name}, speaker ${player.device.name}. Ctrl-C to leave.`,
      );
    }
    const board = new LevelBoard(process.stdout);
    const remote = bridge;
    const startedAt = performance.now();
    timer = setInterval(() => {
      const rows: LevelRow[] = [
        { identity: me.identity, local: true, ...localMeter.take() },
        ...remote.takeLevels().map((l) => ({ ...l, local: false })),
      ];
      if (!options.json) {
        board.draw(rows);
        return;
      }
      const seconds = Math.round((performance.now() - startedAt) / 100) / 10;
      // As the other commands' JSON: dBFS to 0.1, null for silence.
      const participants = rows.map(({ identity, local, rmsDbfs, peakDbfs }) => ({
        identity,
        local,
        rmsDbfs: jsonDbfs(rmsDbfs),
        peakDbfs: jsonDbfs(peakDbfs),
      }));
      console.log(JSON.stringify({ seconds, participants }));
    }, LEVEL_INTERVAL_MS);
    await Promise.race([interrupted, ended]);
  } catch (error) {
    // An SDK or device message could quote a secret: none leaves this command unredacted.
    if (error instanceof Error) error.message = redact(error.message);
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
    clearInterval(timer);
    await runCleanup(
      [
        () => room?.disconnect(),
        () => bridge?.close(),
        () => capture?.aclose(),
        // The capture closed the source the track was made of.
        () => micTrack?.close(false),
        () => dispose(),
      ],
      'leaving the room',
      (error) => {
        if (error instanceof Error) error.message = redact(error.message);
        return error;
      },
    );
  }
}

/**
 * Joins the room, or gives up after {@link CONNECT_TIMEOUT_MS}, or stops when `interrupted` resolves first.
 * @returns whether the room was joined (false: interrupted).
 * @throws JoinError with the SDK's reason, redacted.
 */
async function connect(
  room: Room,
  url: string,
  token: string,
  interrupted: Promise<void>,
  shownUrl: string,
  redact: (text: string) => string,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new JoinError(`no answer from ${shownUrl} within ${CONNECT_TIMEOUT_MS / 1000} s`)),
      CONNECT_TIMEOUT_MS,
    );
  });
  const connecting = room.connect(url, token, { autoSubscribe: true, dynacast: false }).then(
    () => true,
    (error: unknown) => {
      // The SDK's message may carry the URL with its query (the token): only its redacted text goes on.
      const reason = redact(error instanceof Error ? error.message : String(error));
      throw new JoinError(`could not join the room at ${shownUrl}: ${reason}`);
    },
  );
  try {
    return await Promise.race([connecting, timeout, interrupted.then(() => false)]);
  } finally {
    clearTimeout(timer);
  }
}
