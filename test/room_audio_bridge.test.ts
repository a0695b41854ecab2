/**
 * RoomAudioBridge driven the way a Room drives it, without a server: an EventEmitter emits rtc-node's RoomEvents
 * with REAL tracks (LocalAudioTracks fed tones in real time, which an AudioStream receives as it would a remote
 * track), and what the bridge's player plays is recorded from the rig speaker's monitor, outside the package.
 */
import { EventEmitter, once } from 'node:events';
import { RoomEvent, dispose } from '@livekit/rtc-node';
import { afterAll, describe, expect, it } from 'vitest';
import { MediaDevices, MediaDevicesError } from '../src/index.js';
import { RoomAudioBridge, type ParticipantLevels } from '../src/room_audio_bridge.js';
import { sleep } from './support/device_io.js';
import { rigEnv, startRecording, type Recording } from './support/rig.js';
import { sineRmsDbfs, toneLevelDbfs } from './support/signal.js';
import { ToneTrack } from './support/tone_track.js';

const rig = rigEnv();
const RATE = 48000;
const ms = (value: number): number => Math.round((value * RATE) / 1000);

afterAll(async () => {
  await dispose();
});

/** Two participants as the room reports them. */
const alice = { identity: 'alice' };
const bob = { identity: 'bob' };

/** Resolves once `condition` holds (checked every 10 ms); rejects after `timeoutMs`, naming `what`. */
async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits for the next `durationMs` of a running recording; returns where it lies in what `stop()` returns. */
async function nextSpan(recording: Recording, durationMs: number) {
  const from = recording.frames;
  const to = from + ms(durationMs);
  await recording.waitForFrames(to, durationMs + 5000);
  return { from, to };
}

/** The level of the loudest 100 ms window of a `hz` tone in `samples` (dBFS): a late frame only lowers one. */
function toneDbfs(samples: Int16Array, hz: number): number {
  let best = -Infinity;
  for (let at = 0; at + ms(100) <= samples.length; at += ms(100)) {
    best = Math.max(best, toneLevelDbfs(samples.subarray(at, at + ms(100)), RATE, hz));
  }
  return best;
}

const levelOf = (levels: ParticipantLevels[], identity: string) =>
  levels.find((l) => l.identity === identity);

describe('RoomAudioBridge', () => {
  it('plays each subscribed track on one player at its level, meters each participant, removes tracks as the room does, and closes the player when the room disconnects', async () => {
    const room = new EventEmitter();
    const player = new MediaDevices().openOutput({ outputDevice: rig.speakerA });
    const bridge = new RoomAudioBridge(room, player);
    const aliceTone = new ToneTrack('alice-mic', 400, -12);
    const bobTone = new ToneTrack('bob-mic', 1000, -18);
    const warnings: Error[] = [];
    bridge.on('warning', (w) => warnings.push(w));
    const recording = await startRecording(`${rig.speakerA}.monitor`);
    let heard: Int16Array;
    const spans: Record<string, { from: number; to: number }> = {};
    const levels: Record<string, ParticipantLevels[]> = {};
    try {
      await player.start();
      room.emit(RoomEvent.TrackSubscribed, aliceTone.track, undefined, alice);
      room.emit(RoomEvent.TrackSubscribed, bobTone.track, undefined, bob);
      await until('both tracks playing', () => player.stats.sources === 2);
      expect(bridge.identities).toEqual(['alice', 'bob']);
      await sleep(400);
      bridge.takeLevels();
      spans.both = await nextSpan(recording, 1000);
      levels.both = bridge.takeLevels();

      room.emit(RoomEvent.TrackUnsubscribed, bobTone.track, undefined, bob);
      await until("bob's track removed", () => player.stats.sources === 1);
      expect(bridge.identities).toEqual(['alice']);
      levels.bobLeaving = bridge.takeLevels();
      await sleep(200);
      spans.alice = await nextSpan(recording, 600);
      levels.alice = bridge.takeLevels();

      room.emit(RoomEvent.ParticipantDisconnected, alice);
      await until("alice's track removed", () => player.stats.sources === 0);
      expect(bridge.identities).toEqual([]);
      await sleep(200);
      spans.none = await nextSpan(recording, 400);

      const closed = once(bridge, 'closed');
      room.emit(RoomEvent.Disconnected, 1);
      await closed;
      expect(player.closed).toBe(true);
      expect(bridge.closed).toBe(true);
      for (const event of Object.values(RoomEvent)) expect(room.listenerCount(event)).toBe(0);
    } finally {
      heard = await recording.stop();
      await bridge.close();
      await Promise.all([aliceTone.close(), bobTone.close()]);
    }
    expect(warnings).toEqual([]);

    // Both heard at their levels through the one player; each participant metered at its own level.
    const both = heard.subarray(spans.both!.from, spans.both!.to);
    expect(Math.abs(toneDbfs(both, 400) - sineRmsDbfs(-12))).toBeLessThan(0.5);
    expect(Math.abs(toneDbfs(both, 1000) - sineRmsDbfs(-18))).toBeLessThan(0.5);
    expect(Math.abs(levelOf(levels.both!, 'alice')!.rmsDbfs - sineRmsDbfs(-12))).toBeLessThan(0.5);
    expect(Math.abs(levelOf(levels.both!, 'alice')!.peakDbfs - -12)).toBeLessThan(0.5);
    expect(Math.abs(levelOf(levels.both!, 'bob')!.rmsDbfs - sineRmsDbfs(-18))).toBeLessThan(0.5);
    expect(levels.both!.map((l) => [l.identity, l.tracks])).toEqual([
      ['alice', 1],
      ['bob', 1],
    ]);

    // After bob's track is unsubscribed his tone is gone; he is reported once more with no tracks, then forgotten.
    const aliceOnly = heard.subarray(spans.alice!.from, spans.alice!.to);
    expect(toneDbfs(aliceOnly, 1000)).toBeLessThan(-60);
    expect(Math.abs(toneDbfs(aliceOnly, 400) - sineRmsDbfs(-12))).toBeLessThan(0.5);
    expect(levelOf(levels.bobLeaving!, 'bob')?.tracks).toBe(0);
    expect(levels.alice!.map((l) => l.identity)).toEqual(['alice']);

    // After alice left, nothing plays.
    const none = heard.subarray(spans.none!.from, spans.none!.to);
    expect(toneDbfs(none, 400)).toBeLessThan(-60);
    expect(toneDbfs(none, 1000)).toBeLessThan(-60);
  });

  it('a track the player refuses is a warning, not a crash; events after close are ignored', async () => {
    const room = new EventEmitter();
    const player = new MediaDevices().openOutput({ outputDevice: rig.speakerA });
    const bridge = new RoomAudioBridge(room, player);
    const tone = new ToneTrack('late', 400, -12);
    try {
      // Closed under the bridge: addTrack throws, and the bridge reports it.
      await player.aclose();
      const warned = once(bridge, 'warning');
      room.emit(RoomEvent.TrackSubscribed, tone.track, undefined, alice);
      const [warning] = (await warned) as [Error];
      expect(warning).toBeInstanceOf(MediaDevicesError);
      expect(warning.message).toMatch(/closed/);
      expect(bridge.identities).toEqual([]);

      await bridge.close();
      expect(room.listenerCount(RoomEvent.TrackSubscribed)).toBe(0);
    } finally {
      await bridge.close();
      await tone.close();
    }
  });
});
