import { AudioStream, TrackKind, type AudioFrame, type Track } from '@livekit/rtc-node';
import { EventEmitter } from 'node:events';
import { LevelMeter, type AudioLevels } from './level_meter.js';
import type { OutputPlayer } from './output_player.js';

/** What the bridge needs of a remote participant: rtc-node's `RemoteParticipant` is one. */
export interface RoomParticipantLike {
  /** The participant's identity in the room. */
  readonly identity: string;
}

/**
 * The events of rtc-node's `Room` that the bridge follows, with the arguments the Room emits (the names are the
 * values of `RoomEvent.TrackSubscribed` and so on). The publication is not used.
 */
export interface RoomAudioCallbacks {
  trackSubscribed: (track: Track, publication: unknown, participant: RoomParticipantLike) => void;
  trackUnsubscribed: (track: Track, publication: unknown, participant: RoomParticipantLike) => void;
  participantDisconnected: (participant: RoomParticipantLike) => void;
  disconnected: (reason?: unknown) => void;
}

/** A source of a room's events: an rtc-node `Room`, or any EventEmitter that emits the same events. */
export interface RoomAudioEventSource {
  on(event: 'trackSubscribed', listener: RoomAudioCallbacks['trackSubscribed']): unknown;
  on(event: 'trackUnsubscribed', listener: RoomAudioCallbacks['trackUnsubscribed']): unknown;
  on(
    event: 'participantDisconnected',
    listener: RoomAudioCallbacks['participantDisconnected'],
  ): unknown;
  on(event: 'disconnected', listener: RoomAudioCallbacks['disconnected']): unknown;
  off(event: 'trackSubscribed', listener: RoomAudioCallbacks['trackSubscribed']): unknown;
  off(event: 'trackUnsubscribed', listener: RoomAudioCallbacks['trackUnsubscribed']): unknown;
  off(
    event: 'participantDisconnected',
    listener: RoomAudioCallbacks['participantDisconnected'],
  ): unknown;
  off(event: 'disconnected', listener: RoomAudioCallbacks['disconnected']): unknown;
}

/** One remote participant's level over an interval: see {@link RoomAudioBridge.takeLevels}. */
export interface ParticipantLevels extends AudioLevels {
  /** The participant's identity. */
  identity: string;
  /** Audio tracks of the participant playing now. */
  tracks: number;
}

/** Events of a {@link RoomAudioBridge}. */
export interface RoomAudioBridgeEvents {
  /**
   * A track could not be added to or removed from the player, or its level meter failed; the bridge goes on with
   * the other tracks.
   */
  warning: [error: Error];
  /** The room disconnected (or {@link RoomAudioBridge.close} was called): every track removed, the player closed. */
  closed: [];
}

/** A track playing, and the stream its level is read from. */
interface PlayingTrack {
  identity: string;
  meterStream: ReadableStreamDefaultReader<AudioFrame>;
  metering: Promise<void>;
}

const asError = (error: unknown): Error =>
  error instanceof Error ? error : new Error(String(error));

/**
 * Plays a room's remote audio through one {@link OutputPlayer} and measures each remote participant's level.
 *
 * It follows the room's events: an audio track subscribed is added to the player, one unsubscribed (or of a
 * participant who left) is removed, and when the room disconnects every track is removed and the player closed.
 * Events are handled one after another, in the order the room emitted them. A failure never escapes into the
 * room's event loop: it is reported as a `warning`.
 */
export class RoomAudioBridge extends EventEmitter<RoomAudioBridgeEvents> {
  private readonly tracks = new Map<Track, PlayingTrack>();
  private readonly meters = new Map<string, LevelMeter>();
  private queue: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private readonly onSubscribed = (
    track: Track,
    _publication: unknown,
    participant: RoomParticipantLike,
  ): void => {
    if (track.kind !== TrackKind.KIND_AUDIO) return;
    this.enqueue(() => this.add(track, participant.identity));
  };

  private readonly onUnsubscribed = (track: Track): void => {
    this.enqueue(() => this.remove(track));
  };

  private readonly onParticipantDisconnected = (participant: RoomParticipantLike): void => {
    this.enqueue(async () => {
      const theirs = [...this.tracks].filter(([, p]) => p.identity === participant.identity);
      for (const [track] of theirs) await this.remove(track);
    });
  };

  private readonly onDisconnected = (): void => {
    // close() reports its own failures as warnings; nothing is left to reject here.
    this.close().catch((error: unknown) => this.warn(error));
  };

  /**
   * Starts following `room`'s events. Attach it before `room.connect()`: tracks subscribed at joining are then
   * played too. The bridge owns `player` and closes it when the room disconnects.
   */
  constructor(
    private readonly room: RoomAudioEventSource,
    /** The player the room's audio is mixed into. */
    readonly player: OutputPlayer,
  ) {
    super();
    room.on('trackSubscribed', this.onSubscribed);
    room.on('trackUnsubscribed', this.onUnsubscribed);
    room.on('participantDisconnected', this.onParticipantDisconnected);
    room.on('disconnected', this.onDisconnected);
  }

  /** Identities of the remote participants with audio playing now, in the order they were first heard. */
  get identities(): string[] {
    return [...this.meters.keys()].filter((id) =>
      [...this.tracks.values()].some((p) => p.identity === id),
    );
  }

  /**
   * Each remote participant's level (all their audio tracks together, as received) since the last call, in the
   * order they were first heard. A participant whose last track went away is reported one last time, with
   * `tracks: 0`, and then forgotten.
   */
  takeLevels(): ParticipantLevels[] {
    const levels: ParticipantLevels[] = [];
    for (const [identity, meter] of this.meters) {
      let tracks = 0;
      for (const p of this.tracks.values()) if (p.identity === identity) tracks++;
      levels.push({ identity, tracks, ...meter.take() });
      if (tracks === 0) this.meters.delete(identity);
    }
    return levels;
  }

  /** Whether the bridge has closed (the room disconnected, or {@link close} was called). */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Stops following the room, removes every track and closes the player; `closed` is emitted. Safe to call twice;
   * called by itself when the room disconnects.
   */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private enqueue(operation: () => Promise<void>): void {
    if (this.closing) return;
    this.queue = this.queue.then(operation).catch((error: unknown) => this.warn(error));
  }

  /**
   * Emits a `warning`. A listener that throws must not break the bridge (its queue would stay rejected and the
   * player never close): its exception is reported the way Node reports an uncaught one, after this call.
   */
  private warn(error: unknown): void {
    this.emitIsolated('warning', asError(error));
  }

  private emitIsolated<E extends keyof RoomAudioBridgeEvents>(
    event: E,
    ...args: RoomAudioBridgeEvents[E]
  ): void {
    for (const listener of this.listeners(event)) {
      try {
        (listener as (...a: RoomAudioBridgeEvents[E]) => void)(...args);
      } catch (error) {
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  private async add(track: Track, identity: string): Promise<void> {
    if (this.tracks.has(track)) return;
    await this.player.addTrack(track);
    const reader = new AudioStream(track, {
      sampleRate: this.player.sampleRate,
      numChannels: this.player.numChannels,
    }).getReader();
    let meter = this.meters.get(identity);
    if (!meter) {
      meter = new LevelMeter();
      this.meters.set(identity, meter);
    }
    const metering = this.meter(reader, meter).catch((error: unknown) => this.warn(error));
    this.tracks.set(track, { identity, meterStream: reader, metering });
  }

  private async meter(reader: ReadableStreamDefaultReader<AudioFrame>, meter: LevelMeter) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      meter.add(value.data);
    }
  }

  private async remove(track: Track): Promise<void> {
    const playing = this.tracks.get(track);
    if (!playing) return;
    this.tracks.delete(track);
    try {
      await playing.meterStream.cancel();
      await playing.metering;
    } finally {
      // Even when the meter's stream fails to cancel, the track stops playing.
      await this.player.removeTrack(track);
    }
  }

  private async closeAll(): Promise<void> {
    this.room.off('trackSubscribed', this.onSubscribed);
    this.room.off('trackUnsubscribed', this.onUnsubscribed);
    this.room.off('participantDisconnected', this.onParticipantDisconnected);
    this.room.off('disconnected', this.onDisconnected);
    // Whatever the room asked for before goes first (a failure there is a warning already).
    await this.queue.catch((error: unknown) => this.warn(error));
    try {
      for (const track of [...this.tracks.keys()]) await this.remove(track);
    } finally {
      await this.player.aclose();
      this.emitIsolated('closed');
    }
  }
}
