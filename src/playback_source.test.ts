import { AudioFrame } from '@livekit/rtc-node';
import { describe, expect, it } from 'vitest';
import { PlaybackSource } from './playback_source.js';

const BLOCK = 480; // 10 ms at 48 kHz

/** An AsyncIterable whose frames are handed over by the test, one `deliver()` at a time. */
class ManualFeed implements AsyncIterable<AudioFrame> {
  private waiting: ((r: IteratorResult<AudioFrame>) => void) | undefined;
  private readonly queued: AudioFrame[] = [];

  deliver(): void {
    const frame = new AudioFrame(new Int16Array(BLOCK).fill(1000), 48000, 1, BLOCK);
    if (this.waiting) {
      this.waiting({ value: frame, done: false });
      this.waiting = undefined;
    } else {
      this.queued.push(frame);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<AudioFrame> {
    return {
      next: () =>
        this.queued.length > 0
          ? Promise.resolve({ value: this.queued.shift()!, done: false })
          : new Promise((resolve) => (this.waiting = resolve)),
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}

/**
 * A device that takes each block straight from the source (no ring): counts a shortfall as starvation, then lets
 * the source note its backlog, as the player does at each wake-up.
 */
function mixBlock(source: PlaybackSource, into: Int16Array): void {
  const taken = source.take(into, BLOCK);
  if (taken < BLOCK) source.noteStarved(BLOCK - taken);
  source.noteMixed();
}

/** Lets the source's reader take what was delivered. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function liveSource(feed: ManualFeed): PlaybackSource {
  return new PlaybackSource(feed, {
    live: true,
    sampleRate: 48000,
    channels: 1,
    prefetchFrames: 9600,
    latencyCapFrames: 2880, // 60 ms
    trimToFrames: 960, // 20 ms
    onError: (error) => {
      throw error;
    },
    onDrop: () => {},
    onAudio: () => {},
  });
}

/** Three frames delivered ahead, then one per mix for 2.5 s: 30 ms of spare backlog, under the 60 ms cap. */
async function playThreeFramesAhead(feed: ManualFeed, source: PlaybackSource): Promise<void> {
  const buffer = new Int16Array(BLOCK);
  for (let i = 0; i < 3; i++) feed.deliver();
  for (let block = 0; block < 250; block++) {
    feed.deliver();
    await settle();
    mixBlock(source, buffer);
  }
}

describe('PlaybackSource latency correction', () => {
  it('drops backlog a live source held spare for a whole second', async () => {
    const feed = new ManualFeed();
    const source = liveSource(feed);
    await playThreeFramesAhead(feed, source);
    expect(source.stats.correctedFrames).toBe(3 * BLOCK);
    expect(source.stats.droppedFrames).toBe(0);
    expect(source.stats.starvedFrames).toBe(0);
    expect(source.bufferedFrames).toBe(0);
    await source.cancel();
  });

  it('starves while it starts are not jitter: the margin stays 0 and all spare backlog is dropped', async () => {
    const feed = new ManualFeed();
    const source = liveSource(feed);
    // Five mixes before the first frame (starved), then three frames ahead.
    for (let block = 0; block < 5; block++) mixBlock(source, new Int16Array(BLOCK));
    await playThreeFramesAhead(feed, source);
    expect(source.stats.starvedFrames).toBe(5 * BLOCK);
    expect(source.stats.correctedFrames).toBe(3 * BLOCK);
    await source.cancel();
  });

  it('counts the backlog its ring in the mixer holds: lateness the ring took in is dropped here', async () => {
    const feed = new ManualFeed();
    const source = liveSource(feed);
    const buffer = new Int16Array(BLOCK);
    const CUSHION = 2 * BLOCK;
    let ringFrames = 0;
    // As the player keeps the ring: whole blocks while they fit under the cushion (or the ring is empty).
    const topUp = () => {
      while (ringFrames === 0 || ringFrames + BLOCK <= CUSHION) {
        const taken = source.take(buffer, BLOCK);
        if (taken === 0) return;
        ringFrames += taken;
      }
    };
    // Each 10 ms: the device takes a block from the ring and wakes the player, then a frame arrives. Frames arrive
    // one block after the mix: the ring holds 10 ms, and nothing waits here. After 1 s, three frames arrive at
    // once: 30 ms of lateness for good, under the 60 ms cap. The ring takes in 10 ms of it (it fills to its
    // cushion), 20 ms wait here.
    for (let block = 0; block < 350; block++) {
      ringFrames = Math.max(0, ringFrames - BLOCK);
      topUp();
      source.noteMixed(ringFrames);
      feed.deliver();
      if (block === 100) for (let i = 0; i < 3; i++) feed.deliver();
      await settle();
      topUp();
    }
    // The least backlog right after a mix, ring and here: all 30 ms. Counted without the ring, only the 20 ms here.
    expect(source.stats.correctedFrames).toBe(3 * BLOCK);
    expect(source.stats.droppedFrames).toBe(0);
    expect(source.stats.starvedFrames).toBe(0);
    await source.cancel();
  });

  it('keeps the cushion a starve showed it needs while the source is late now and then, and gives it back after', async () => {
    const feed = new ManualFeed();
    const source = liveSource(feed);
    const buffer = new Int16Array(BLOCK);
    // 150 s of mixes; one frame per mix, delivered before it, except every 3 s of the first 60 s, when it comes
    // after (a GC pause).
    let late = false;
    const starvedAt: number[] = [];
    const correctedAt: [number, number][] = [];
    for (let block = 0; block < 15000; block++) {
      if (late) feed.deliver(); // the late frame of the previous block
      late = block < 6000 && block % 300 === 299;
      if (!late) feed.deliver();
      await settle();
      const { starvedFrames, correctedFrames } = source.stats;
      mixBlock(source, buffer);
      if (source.stats.starvedFrames > starvedFrames) starvedAt.push(block);
      if (source.stats.correctedFrames > correctedFrames) {
        correctedAt.push([block, source.stats.correctedFrames - correctedFrames]);
      }
    }
    console.log(
      `starved at blocks ${starvedAt.join(', ')}; corrected ${JSON.stringify(correctedAt)}`,
    );
    // The first late frame starves the source and leaves it a frame of cushion, which the margin then keeps: the
    // next 19 late frames are covered. Dropping all that was spare, every one of them would starve it again.
    expect(starvedAt).toEqual([299]);
    // After the last late frame (block 5999), every 30 s without one gives back half the margin.
    expect(correctedAt).toEqual([
      [8999, BLOCK / 2],
      [11999, BLOCK / 4],
      [14999, BLOCK / 8],
    ]);
    await source.cancel();
  });
});
