/**
 * `lk-audio join` through the built binary (node bin/lk-audio.js), on its failure paths: no LiveKit server can
 * run here, so the servers are stand-ins on localhost (a closed port, one that never answers, one that refuses
 * the token and echoes it back). Each run must end within 10 s with one clear line and the right exit status, and
 * no secret (API secret, token) may appear in anything it prints. Token minting itself is checked in
 * src/cli/livekit_token.test.ts, the room wiring in test/room_audio_bridge.test.ts.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintJoinToken } from '../src/cli/livekit_token.js';
import { sleep } from './support/device_io.js';
import { rigChildEnv, rigEnv } from './support/rig.js';

const rig = rigEnv();
const API_KEY = 'APItestKey123';
const API_SECRET = 'test-secret-0123456789-abcdefghijklmnop';
/** The limit for an unreachable server or a bad token (ms). */
const LIMIT_MS = 10_000;
const devices = ['--input', rig.micA, '--output', rig.speakerA];

interface Run {
  code: number | null;
  out: string;
  err: string;
  elapsedMs: number;
}

/** Runs the built lk-audio with `env` added to the rig's (and no LIVEKIT_* of its own). */
function lkAudio(
  args: string[],
  env: Record<string, string> = {},
  whileRunning?: (child: ReturnType<typeof spawn>) => void,
): Promise<Run> {
  const base = rigChildEnv();
  for (const name of Object.keys(base)) if (name.startsWith('LIVEKIT_')) delete base[name];
  const started = performance.now();
  const child = spawn(process.execPath, ['bin/lk-audio.js', ...args], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  whileRunning?.(child);
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ code, out, err, elapsedMs: performance.now() - started })),
  );
}

/** The lines a run wrote to stderr. */
const errorLines = (run: Run): string[] => run.err.trim().split('\n');

/** Asserts that none of `secrets` appears in what the run printed, nor anything shaped like a JWT. */
function expectNoSecrets(run: Run, ...secrets: string[]): void {
  for (const secret of [API_SECRET, ...secrets]) {
    expect(run.out).not.toContain(secret);
    expect(run.err).not.toContain(secret);
  }
  expect(`${run.out}${run.err}`).not.toMatch(/eyJ[\w-]*\.[\w-]+/);
}

const mintEnv = { LIVEKIT_API_KEY: API_KEY, LIVEKIT_API_SECRET: API_SECRET };

/** What a stand-in server received. */
interface Received {
  url: string;
  authorization: string | undefined;
}

let refusing: Server;
let refusingUrl: string;
const received: Received[] = [];
let silent: TcpServer;
let silentUrl: string;
const silentSockets = new Set<Socket>();
let closedUrl: string;

function portOf(server: Server | TcpServer): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no port');
  return address.port;
}

beforeAll(async () => {
  // The binary under test is dist/; this builds it when the sources are newer.
  execFileSync('bash', ['scripts/setup.sh'], { stdio: 'ignore' });

  // Refuses every join with 401, and echoes the request's URL and credentials in its reason, as a careless
  // server or proxy might: the SDK puts that reason into its error message.
  refusing = createServer((req, res) => {
    received.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    res.writeHead(401, { 'content-type': 'text/plain' });
    res.end(`invalid token ${token} for ws://${req.headers.host}/rtc?access_token=${token}`);
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  refusingUrl = `ws://127.0.0.1:${portOf(refusing)}`;

  // Accepts connections and never answers.
  silent = createTcpServer((socket) => {
    silentSockets.add(socket);
    socket.on('close', () => silentSockets.delete(socket));
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentUrl = `ws://127.0.0.1:${portOf(silent)}`;

  // A port nobody listens on (any more).
  const closed = createTcpServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedUrl = `ws://127.0.0.1:${portOf(closed)}`;
  await new Promise((resolve) => closed.close(resolve));
}, 180_000);

afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  await Promise.all([
    new Promise((resolve) => refusing?.close(resolve)),
    new Promise((resolve) => silent?.close(resolve)),
  ]);
});

describe('lk-audio join', () => {
  it('usage problems exit 2 and name what is missing, without printing the secret', async () => {
    const noCredentials = await lkAudio(['join', '--url', closedUrl]);
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.err).toMatch(
      /give --token, or set LIVEKIT_API_KEY and LIVEKIT_API_SECRET/,
    );

    const noRoom = await lkAudio(['join', '--url', closedUrl], mintEnv);
    expect(noRoom.code).toBe(2);
    expect(noRoom.err).toMatch(/--room is required to mint a token/);
    expectNoSecrets(noRoom);

    const badUrl = await lkAudio(['join', '--url', 'ftp://example.com', '--room', 'r'], mintEnv);
    expect(badUrl.code).toBe(2);
    expect(badUrl.err).toMatch(/--url must start with wss:\/\//);

    const noUrl = await lkAudio(['join', '--room', 'r'], mintEnv);
    expect(noUrl.code).toBe(2);
    expect(noUrl.err).toMatch(/required option '--url/);
  });

  it('a malformed token ends with one line and status 1, before any connection, without quoting it', async () => {
    const token = 'not-a-jwt-but-secret-looking-0123456789';
    const before = received.length;
    const run = await lkAudio(['join', '--url', refusingUrl, '--token', token, ...devices]);
    expect(run.code).toBe(1);
    expect(errorLines(run)).toEqual([
      'lk-audio join: the token is malformed: it is not a JWT (header.payload.signature)',
    ]);
    expect(run.elapsedMs).toBeLessThan(LIMIT_MS);
    expect(received.length).toBe(before);
    expectNoSecrets(run, token);
  });

  it('an expired token ends with one line naming when it expired, and status 1', async () => {
    const token = await mintJoinToken({
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      room: 'r',
      identity: 'i',
      ttlSeconds: 1,
    });
    await sleep(1100);
    const before = received.length;
    const run = await lkAudio(['join', '--url', refusingUrl, '--token', token, ...devices]);
    expect(run.code).toBe(1);
    expect(errorLines(run)).toHaveLength(1);
    expect(run.err).toMatch(/^lk-audio join: the token expired at \d{4}-\d\d-\d\dT/);
    expect(run.elapsedMs).toBeLessThan(LIMIT_MS);
    expect(received.length).toBe(before);
    expectNoSecrets(run, token);
  });

  it('a server that cannot be reached: one line naming it, status 1, within 10 s (minted token)', async () => {
    const run = await lkAudio(['join', '--url', closedUrl, '--room', 'r', ...devices], mintEnv);
    expect(run.code).toBe(1);
    expect(errorLines(run)).toHaveLength(1);
    expect(run.err).toMatch(
      new RegExp(`^lk-audio join: could not join the room at ${closedUrl}/: .*Connection refused`),
    );
    expect(run.elapsedMs).toBeLessThan(LIMIT_MS);
    expectNoSecrets(run);
  });

  it('a server that never answers: given up within 10 s with one line, status 1', async () => {
    const run = await lkAudio(['join', '--url', silentUrl, '--room', 'r', ...devices], mintEnv);
    expect(run.code).toBe(1);
    expect(errorLines(run)).toEqual([`lk-audio join: no answer from ${silentUrl}/ within 7 s`]);
    expect(run.elapsedMs).toBeLessThan(LIMIT_MS);
    expectNoSecrets(run);
  });

  for (const json of [false, true]) {
    it(`a server refusing the token and echoing it back: reported redacted${json ? ' (--json)' : ''}`, async () => {
      const token = await mintJoinToken({
        apiKey: API_KEY,
        apiSecret: API_SECRET,
        room: 'r',
        identity: 'i',
      });
      const before = received.length;
      // The token in the URL too, as some tools pass it: redacted there as well.
      const url = `${refusingUrl}/?access_token=${token}`;
      const run = await lkAudio(
        ['join', '--url', url, '--token', token, ...devices, ...(json ? ['--json'] : [])],
        mintEnv,
      );
      // The server did get the token, and put it into its answer: only redaction keeps it out of the output.
      expect(received.slice(before).map((r) => r.authorization)).toContain(`Bearer ${token}`);
      expect(run.code).toBe(1);
      expect(errorLines(run)).toHaveLength(1);
      expect(run.err).toMatch(
        new RegExp(
          `^lk-audio join: could not join the room at ${refusingUrl}/\\?access_token=\\[redacted\\]: ` +
            `.*401 Unauthorized - invalid token \\[redacted\\] for .*access_token=\\[redacted\\]`,
        ),
      );
      expect(run.elapsedMs).toBeLessThan(LIMIT_MS);
      expectNoSecrets(run, token);
      // Nothing but the command's own output: no SDK log lines on stdout (they would break --json).
      expect(run.out).toBe('');
    });
  }

  it('Ctrl-C while joining stops, closes the devices and exits 0', async () => {
    const run = await lkAudio(
      ['join', '--url', silentUrl, '--room', 'r', ...devices],
      mintEnv,
      (child) => setTimeout(() => child.kill('SIGINT'), 1500),
    );
    expect(run.err).toBe('');
    expect(run.code).toBe(0);
    expectNoSecrets(run);
  });
});
