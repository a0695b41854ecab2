/**
 * The soak benchmark (bench/soak.ts) for one minute, in a child process against the rig, under its one core of CPU
 * load: what a loaded shared machine cannot break honestly must hold.
 *
 * What is asserted, and what is not:
 * - Device xruns (PortAudio's input overflow / output underflow flags) are reported, not bounded. They say that the
 *   sound server or the audio thread missed a deadline: on a shared 2-core VM with one core spinning, that is the
 *   scheduler's doing, not the package's (its audio thread never waits on JavaScript).
 * - Capture-queue drops beyond what the device forced: none. The queue holds 50 frames (500 ms) and the pump drains
 *   it in well under a millisecond a frame; a burst of more than 500 ms in one wake-up (the sound server delivering
 *   what it held after a stall) drops its excess by design, and the soak counts that excess (`burstExcessFrames`).
 *   A drop beyond it means the queue was not drained in time: JavaScript or rtc-node's captureFrame was hundreds of
 *   ms behind.
 * - Input and rendered ring overruns: none. The rings hold 1 s; an overrun needs JavaScript or the sound server to
 *   stall for over a second. Both bounds were broken on this shared VM only at load averages of 6-14 on 2 cores
 *   (other sessions' builds and tests besides the soak's own load: event-loop stalls of 0.4-1.7 s, the server stalled
 *   for 2 s at times and a device watchdog closed the capture or the player, which fails this test too). A CI
 *   machine running only this test with its one core of load is far from that.
 * - The live track's audio dropped at the latency cap: no more than the device did not play. A live track comes in
 *   real time; whatever the device does not take in real time (the rig's sink rendered only 87 % of real time at a
 *   load average of 6.5, 74-83 % at 7-14) or fills with silence on an underrun must be dropped to keep latency under
 *   the cap, and that is all the player may drop (plus a cap's worth at each end of the run, where the counters are
 *   read a wake-up apart). Measured at load 6.5: 8920 ms dropped, 8840 ms not played.
 * - The player's other short losses: silence played on an output ring underrun and a source starved. They follow
 *   device stalls (the device stops taking audio, then takes a burst) and event-loop stalls longer than the 20 ms
 *   mixed ahead. A mixer bug (mixing short, a wrong refill rule) loses audio at every turn, a loaded machine in
 *   episodes: each is bounded at 2 % of the run (1.2 s in a minute) plus the event loop's stalls the run measured
 *   (a 1 ms timer's gaps beyond 10 ms, summed: on a machine whose both cores are busy, the soak's load and another
 *   process's, the loop stalled 30-38 ms again and again and the player played 1.47 s of silence in 147 underruns).
 *   One stall episode at a load average of 1-2 cost 300 ms; a bug that starves a block in every ten costs 10 %.
 *   (At load 6.5 the silence was 2.03 %.)
 * - Memory: RSS may not grow 20 MB from the end of the first 15 s window to the end (the issue's bound; over the
 *   45 s after it, that catches a leak of 5 kB per 10 ms frame; a healthy run grows well under 1 MB).
 * - Queued output never above the latency cap (the player's ring and the live track's backlog after each mix):
 *   the cap is the player's own rule, load or not.
 * - The capture keeps flowing: at least 95 % of the run's 10 ms frames captured and received by the subscriber of
 *   the published track, no processing or source errors, no fatal error.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { rigChildEnv } from './support/rig.js';

const ROOT = join(import.meta.dirname, '..');
const MINUTES = 1;
const WINDOW_SECONDS = 15;
/** Largest share of the run a loaded machine may cost in underrun silence and in starved sources. */
const PLAYER_LOSS_SHARE = 0.02;
/** Least share of the run's 10 ms frames that must be captured and received. */
const FLOWING_SHARE = 0.95;

/** Runs the soak benchmark to its end; resolves with its exit status and output. */
function runSoak(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/soak.ts', ...args], {
      cwd: ROOT,
      env: rigChildEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it(
  `soak for ${MINUTES} min under one core of load: nothing lost to JavaScript, memory flat, output within the cap`,
  // The run bounds itself (its length, then it closes); no time limit of the test's own.
  { timeout: 0 },
  async () => {
    const { code, stdout, stderr } = await runSoak([
      '--minutes',
      String(MINUTES),
      '--window-seconds',
      String(WINDOW_SECONDS),
    ]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout);
    const { totals, verdict } = report;
    // For the CI log: what the machine did, bounded or not.
    console.log(
      `soak ${MINUTES} min: device xruns ${JSON.stringify(totals.deviceXruns)}, rings ${JSON.stringify(totals.rings)}, ` +
        `player ${JSON.stringify(totals.player)}, capture latency p99 per window ` +
        `${report.windows.map((w: { captureLatencyMs: { p99: number } }) => w.captureLatencyMs.p99).join('/')} ms, ` +
        `event loop max ${report.windows.map((w: { eventLoopDelayMs: { max: number } }) => w.eventLoopDelayMs.max).join('/')} ms, ` +
        `event loop stalled ${totals.eventLoopStalledMs} ms, RSS growth ${verdict.rssGrowthAfterFirstWindowMB.value} MB`,
    );

    expect(report.errors).toEqual([]);
    expect(report.windowsRun).toBe((MINUTES * 60) / WINDOW_SECONDS);

    // Losses that only long stalls cause: none beyond what the device's bursts force.
    expect(totals.capture.framesDropped).toBeLessThanOrEqual(totals.capture.burstExcessFrames);
    expect(totals.rings.inputOverruns).toBe(0);
    expect(totals.rings.renderedOverruns).toBe(0);

    // Short player losses: episodes, not a rate.
    const runMs = totals.seconds * 1000;
    expect(totals.rings.outputSilenceMs).toBeLessThanOrEqual(
      PLAYER_LOSS_SHARE * runMs + totals.eventLoopStalledMs,
    );
    const notPlayedMs =
      Math.max(0, runMs - totals.player.renderedMs) + totals.rings.outputSilenceMs;
    expect(totals.player.droppedMs).toBeLessThanOrEqual(notPlayedMs + 2 * report.latencyCapMs);
    expect(totals.player.starvedMs).toBeLessThanOrEqual(
      PLAYER_LOSS_SHARE * runMs + totals.eventLoopStalledMs,
    );

    // Memory and the latency cap.
    expect(verdict.rssGrowthAfterFirstWindowMB.pass, JSON.stringify(verdict)).toBe(true);
    expect(verdict.queuedOutputWithinCap.pass, JSON.stringify(verdict)).toBe(true);

    // The capture keeps flowing and nothing failed.
    const frames = totals.seconds * 100;
    expect(totals.capture.framesCaptured).toBeGreaterThanOrEqual(FLOWING_SHARE * frames);
    expect(totals.capture.framesPublishedReceived).toBeGreaterThanOrEqual(FLOWING_SHARE * frames);
    expect(totals.capture.processingErrors).toBe(0);
    expect(totals.player.processingErrors).toBe(0);
    expect(totals.player.sourceErrors).toBe(0);
  },
);
