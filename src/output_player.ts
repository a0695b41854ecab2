import {
  AudioFrame,
  AudioResampler,
  AudioResamplerQuality,
  AudioStream,
  Track,
  TrackKind,
} from '@livekit/rtc-node';
import { EventEmitter } from 'node:events';
import type { AudioDevice, DeviceSelector } from './audio_device.js';
import type { CatalogEntry, DeviceCatalog } from './backend/device_catalog.js';
import { nativeBinding, type NativeSourceMixer } from './backend/native_binding.js';
import type { DeviceStream, TimedAudio } from './device_stream.js';
import { DeferredEvents } from './deferred_events.js';
import {
  DeviceSwitcher,
  type DeviceChange,
  type DeviceChangeSource,
  type SwitchableDevice,
} from './device_switch.js';
import {
  AudioBackendError,
  DeviceLostError,
  InvalidOptionError,
  MediaDevicesError,
} from './errors.js';
import { DeviceWatchdog } from './device_watchdog.js';
import { FrameSlicer } from './frame_slicer.js';
import { emitIsolated, reportUncaught } from './listener_isolation.js';
import {
  emptyPlaybackSourceStats,
  PlaybackSource,
  type PlaybackSourceStats,
} from './playback_source.js';
import type { SharedAudioProcessing } from './shared_audio_processing.js';

/** Options of {@link OutputPlayer.addStream}. */
export interface AddStreamOptions {
  /**
   * Whether the stream pushes audio in real time on its own clock (a live feed: its backlog is capped, oldest audio
   * dropped) rather than being pulled at the device's pace (a file, text-to-speech: never dropped). Default false.
   */
  live?: boolean;
}

/** Counters of an {@link OutputPlayer}, all since it opened. */
export interface OutputPlayerStats {
  /** Samples per channel the device played (silence included), at the device's rate. */
  renderedFrames: number;
  /** Device callbacks in which a playing source had too little audio ready (it fell behind); silence filled in. */
  underruns: number;
  /** Samples per channel of silence that left in the mix: per underrun, the longest shortfall of a source. */
  underrunFrames: number;
  /** Device callbacks PortAudio flagged as output underflow. */
  deviceUnderflows: number;
  /** Samples per channel of live sources dropped to keep them under the latency cap (each fired `overflow`). */
  droppedFrames: number;
  /**
   * Samples per channel of spare backlog dropped from live sources that held it for a whole second (a device
   * underrun or a starved mix leaves a live source later for good; this brings it back to its least latency). A
   * source that starved after its first second keeps what it lacked as a jitter margin, up to `bufferMs`, halved
   * after each 30 s that its backlog never dipped into it.
   */
  correctedFrames: number;
  /** Samples per channel of silence mixed in for sources that had nothing ready. */
  starvedFrames: number;
  /** 10 ms frames of what was played handed to the echo canceller's reverse stream. */
  reverseFrames: number;
  /** Frames the echo canceller failed on (each fired a `warning`). */
  processingErrors: number;
  /** Sources whose iterator threw (each fired a `warning` and was removed). */
  sourceErrors: number;
  /** Sources playing now (tracks and streams). */
  sources: number;
}

/** Payload of the `warning` event: a fault the player survived. */
export interface OutputPlayerWarning {
  /**
   * `source-failed`: a stream's iterator threw and it was removed; `processing-failed`: a reverse frame failed;
   * `device-switch-failed`: following the default, moving to the new default failed (the player stays where it
   * was).
   */
  code: 'source-failed' | 'processing-failed' | 'device-switch-failed';
  /** Human-readable description. */
  message: string;
  /** The underlying error. */
  cause: unknown;
}

/** Payload of the OutputPlayer `overflow` event. */
export interface OutputOverflow {
  /** Which source: `track <sid>` or `stream`. */
  source: string;
  /** Samples per channel dropped (the oldest). */
  droppedFrames: number;
  /** The cap the backlog passed (ms). */
  latencyCapMs: number;
  /** The backlog it was brought back to (ms): the player's buffer, so it plays as soon as before. */
  backlogMs: number;
}

/**
 * Events of an {@link OutputPlayer}. They fire outside the mix, so a listener may close the player or add and remove
 * sources. A listener that throws is reported as an `uncaughtException` (the process ends as with any uncaught
 * exception unless it handles that); playback and the other listeners go on.
 */
export interface OutputPlayerEvents {
  /**
   * A fatal fault (the device went away: {@link DeviceLostError}): the player is already closed. Reported as an
   * `uncaughtException` when nobody listens.
   */
  error: [error: Error];
  /**
   * The player moved to another device ({@link OutputPlayer.setOutputDevice}, or following the default): its
   * sources play on, on the new device.
   */
  deviceChanged: [change: DeviceChange];
  /** A fault the player survived; counted in {@link OutputPlayerStats} as well. */
  warning: [warning: OutputPlayerWarning];
  /** A live source's backlog passed the latency cap: its oldest audio was dropped (also counted in stats). */
  overflow: [info: OutputOverflow];
  /**
   * A stream added with {@link OutputPlayer.addStream} ended (or failed) and the device has taken its last audio:
   * it is heard within the device's output latency. Not fired for streams removed, or cut short by closing.
   */
  streamEnded: [stream: AsyncIterable<AudioFrame>];
  /**
   * A track added with {@link OutputPlayer.addTrack} ended (unpublished, its participant gone): it has left the mix,
   * and the device has taken its last audio. Not fired for tracks removed, or cut short by closing.
   */
  trackEnded: [track: Track];
}

const BLOCK_MS = 10;
/** The most sources a player mixes at once. */
const MAX_SOURCES = 32;
// A pulled source's audio waiting in its mixer ring (ms): the event-loop stall it rides out. It costs no latency (a
// new stream is heard at the next callback) but what it holds is not played when the stream is removed.
const PULLED_CUSHION_MS = 100;
// The longest a device switched away from plays out its last audio (ms): its sources' rings and the host's buffer
// hold about 20-120 ms with the default options.
const RETIRE_LIMIT_MS = 500;
// How far ahead a pull source is read (ms): enough to ride out a slow iterator, small enough to stay responsive.
const PREFETCH_MS = 200;
/** The largest gain of a source (see OutputPlayer.setGain): +24 dB. */
const MAX_GAIN = 16;

/**
 * @internal A device opened for playback: its output stream (with the rendered audio captured), the mixer its
 * callback mixes the sources with and, when the device runs at another rate than the player, the resampler of what
 * it played back to the player's rate.
 */
export interface PlaybackDevice {
  stream: DeviceStream;
  mixer: NativeSourceMixer;
  fromDevice: AudioResampler | undefined;
}

/** @internal Closes a playback device's stream and resampler. */
export function releasePlaybackDevice(device: PlaybackDevice): void {
  device.stream.close();
  device.fromDevice?.close();
}

/**
 * @internal The mixer of a player's device at `sampleRate` (the device's): room per source for the larger of the two
 * cushions and two 10 ms blocks.
 */
export function createSourceMixer(
  channels: number,
  sampleRate: number,
  bufferMs: number,
): NativeSourceMixer {
  const ringMs = Math.max(PULLED_CUSHION_MS, bufferMs) + 2 * BLOCK_MS;
  return new (nativeBinding().SourceMixer)({
    channels,
    sources: MAX_SOURCES,
    ringFrames: Math.ceil((sampleRate * ringMs) / 1000),
  });
}

/** One source's place in one device's mixer. */
interface SourceFeed {
  slot: number;
  /** From the player's rate to the device's, when they differ. */
  toDevice: AudioResampler | undefined;
  /** The mixer's count of the source's starved frames, as last noted. */
  starvedFrames: number;
}

/** One device the player plays on. */
interface PlaybackLink extends PlaybackDevice {
  watchdog: DeviceWatchdog | undefined;
  feeds: Map<PlaybackSource, SourceFeed>;
}

/** @internal What MediaDevices.openOutput hands to an OutputPlayer. */
export interface OutputPlayerParts {
  /** The device to start with (opened, not started). */
  device: PlaybackDevice;
  /** Opens another device the same way (for a switch). */
  openDevice: (entry: CatalogEntry, catalog: DeviceCatalog) => PlaybackDevice;
  /** The MediaDevices, for `devicechange` while following the default. */
  devices: DeviceChangeSource;
  followDefault: boolean;
  processing: SharedAudioProcessing;
  sampleRate: number;
  numChannels: number;
  latencyCapMs: number;
  bufferMs: number;
}

/**
 * Plays remote tracks and any stream of frames on a speaker, opened by {@link MediaDevices.openOutput}.
 *
 * Each source has its own ring in the device's mixer, which the device callback mixes at its deadline (a source
 * that is short is counted as starved and holds no other back). JavaScript keeps each ring filled to its cushion:
 * `bufferMs` for a live source (its latency), 100 ms for a pulled stream (read ahead; a new stream is still heard at
 * the next callback). What the device really played, silence included, goes back to the shared echo canceller in
 * 10 ms frames together with its DAC time, so the microphone of the same MediaDevices hears no echo of it.
 */
export class OutputPlayer extends EventEmitter<OutputPlayerEvents> {
  /** Sample rate of the mix (Hz). */
  readonly sampleRate: number;
  /** Channels of the mix; every one is written to the device. */
  readonly numChannels: number;
  /** Backlog (ms) beyond which a live source's oldest audio is dropped. */
  readonly latencyCapMs: number;

  private link: PlaybackLink;
  private readonly openDevice: OutputPlayerParts['openDevice'];
  private readonly switcher: DeviceSwitcher;
  // Counters of devices played on before the current one, so that stats never go back.
  private readonly pastDevices = { underruns: 0, underrunFrames: 0, deviceUnderflows: 0 };
  // Devices switched away from that still play out their last audio.
  private readonly retiring = new Set<PlaybackLink>();
  private readonly processing: SharedAudioProcessing;
  private readonly blockFrames: number;
  private readonly targetBufferedFrames: number;
  private readonly pulledCushionFrames: number;
  // One block on its way to a mixer ring (the mixer copies it): reused, so feeding allocates nothing.
  private readonly block: Int16Array;
  private readonly renderSlicer: FrameSlicer;
  // Keyed by the track object: tracks that never joined a room all share the sid `TR_unknown`.
  private readonly tracks = new Map<Track, PlaybackSource>();
  private readonly streams = new Map<AsyncIterable<AudioFrame>, PlaybackSource>();
  // Sources played at another gain than 1 (see setGain).
  private readonly gains = new WeakMap<PlaybackSource, number>();
  // What sources no longer playing counted, so that stats never go back.
  private readonly removedStats = emptyPlaybackSourceStats();
  private started = false;
  private fillScheduled = false;
  // Sources that ended, whose last audio their device's mixer still plays.
  private readonly endedSources: {
    frames: AsyncIterable<AudioFrame> | Track;
    link: PlaybackLink;
    slot: number;
  }[] = [];
  private readonly deferred = new DeferredEvents();
  private closing: Promise<void> | undefined;
  private readonly counters = {
    renderedFrames: 0,
    reverseFrames: 0,
    processingErrors: 0,
    sourceErrors: 0,
  };

  /** @internal Use {@link MediaDevices.openOutput}. */
  constructor(parts: OutputPlayerParts) {
    super();
    this.link = { ...parts.device, watchdog: undefined, feeds: new Map() };
    this.openDevice = parts.openDevice;
    this.processing = parts.processing;
    this.sampleRate = parts.sampleRate;
    this.numChannels = parts.numChannels;
    this.latencyCapMs = parts.latencyCapMs;
    this.blockFrames = (parts.sampleRate * BLOCK_MS) / 1000;
    this.targetBufferedFrames = Math.round((parts.sampleRate * parts.bufferMs) / 1000);
    this.pulledCushionFrames = Math.max(
      this.targetBufferedFrames,
      (parts.sampleRate * PULLED_CUSHION_MS) / 1000,
    );
    this.block = new Int16Array(this.blockFrames * parts.numChannels);
    this.renderSlicer = new FrameSlicer(this.blockFrames, parts.numChannels, parts.sampleRate);
    this.listen(this.link);
    this.processing.attachRenderer(this.flushRendered);
    this.link.watchdog = this.watch(this.link);
    const target: SwitchableDevice = {
      kind: 'audiooutput',
      currentDevice: () => this.device,
      isClosed: () => this.closed,
      checkOpen: () => this.checkOpen(),
      moveTo: (entry, catalog) => this.moveTo(entry, catalog),
      moved: (change) => emitIsolated(this, 'deviceChanged', change),
      followFailed: (error) =>
        this.deferred.emit(() =>
          emitIsolated(this, 'warning', {
            code: 'device-switch-failed',
            message:
              'moving to the new default output device failed; the player stays on its device',
            cause: error,
          }),
        ),
      lost: (error) => this.fail(error),
    };
    this.switcher = new DeviceSwitcher(target, parts.devices, parts.followDefault);
  }

  /** The device played on now (it changes when the player moves). */
  get device(): AudioDevice {
    return this.link.stream.outputDevice!;
  }

  /** Whether the player follows the system default output (`followDefault`, until {@link setOutputDevice}). */
  get followsDefault(): boolean {
    return this.switcher.followsDefault;
  }

  /**
   * Moves the player to another speaker, chosen as `openOutput` chooses one (index, id or name substring), keeping
   * its tracks, streams and the echo canceller's far end: the new device is opened, given the mix from here on and
   * started (when the player was started), then the old one is closed; the audio mixed for the old device but not
   * yet played there (about `bufferMs` plus its output latency) is not played. Then `deviceChanged` fires with
   * reason `requested`, and following the default (if it did) ends. Moves run one after another; asking for the
   * device in use only ends following the default.
   * @returns resolves once the new device plays the mix.
   * @throws (rejects) DeviceNotFoundError, AmbiguousDeviceError, DeviceCapabilityError, AudioBackendError (the
   *   device refused to open or start); the old device then still plays. MediaDevicesError when the player is
   *   closed.
   */
  setOutputDevice(selector: DeviceSelector): Promise<void> {
    return this.switcher.request(selector);
  }

  private listen(link: PlaybackLink): void {
    link.stream.on('writable', () => this.fill(true));
    link.stream.on('rendered', (audio) => this.deferred.run(() => this.onRendered(link, audio)));
  }

  private watch(link: PlaybackLink): DeviceWatchdog {
    return new DeviceWatchdog(
      link.stream,
      () => !this.closing && this.started && link === this.link,
      () => {
        if (this.switcher.deviceStopped(link.stream.outputDevice!)) return;
        this.fail(
          new DeviceLostError(
            link.stream.outputDevice!.id,
            `the output device ${link.stream.outputDevice!.id} stopped playing (lost or failed)`,
          ),
        );
      },
    );
  }

  /**
   * Opens another device, fills its sources' rings and starts it (when started), then retires the old one. All or
   * nothing: when the new device fails, the old one plays on.
   */
  private async moveTo(entry: CatalogEntry, catalog: DeviceCatalog): Promise<void> {
    this.checkOpen();
    const next: PlaybackLink = {
      ...this.openDevice(entry, catalog),
      watchdog: undefined,
      feeds: new Map(),
    };
    const old = this.link;
    // What the old device played until now reaches the echo canceller before anything of the new one.
    old.stream.flushRendered();
    this.listen(next);
    this.link = next;
    // A partial 10 ms frame of the old device's audio, stamped on its DAC times, is of no use any more.
    this.renderSlicer.reset();
    if (this.started) {
      try {
        // The new device starts with audio in its sources' rings rather than an underrun.
        this.deferred.run(() => {
          this.feedAll();
          next.stream.start();
        });
      } catch (error) {
        this.link = old;
        this.releaseLink(next);
        throw error;
      }
    }
    if (this.closing) {
      // A listener of the events held back during the feed closed the player (and the new device with it).
      old.watchdog?.stop();
      this.releaseLink(old);
      return;
    }
    this.retire(old);
    next.watchdog = this.watch(next);
  }

  /**
   * Keeps the counters of a device played on before and closes it: at once when the player is stopped, otherwise
   * once it has played out what its sources' rings held (and the host's output latency), so that it goes on while
   * the new device starts instead of both falling silent.
   */
  private retire(link: PlaybackLink): void {
    link.watchdog?.stop();
    link.stream.removeAllListeners('writable');
    // What the old device plays from here on is its tail: each source plays what its ring holds, then stops.
    for (const [source, feed] of link.feeds) {
      this.noteStarved(link, source, feed);
      link.mixer.finishSource(feed.slot);
    }
    const mixed = link.mixer.counters();
    this.pastDevices.underruns += mixed.underruns;
    this.pastDevices.underrunFrames += mixed.underrunFrames;
    this.pastDevices.deviceUnderflows += link.stream.stats.outputUnderflows;
    if (!this.started) {
      this.releaseLink(link);
      return;
    }
    this.retiring.add(link);
    const tailMs =
      (this.queuedFrames(link) * 1000) / link.stream.sampleRate + link.stream.latency.outputMs;
    setTimeout(
      () => {
        if (this.retiring.delete(link)) this.releaseLink(link);
      },
      Math.min(RETIRE_LIMIT_MS, tailMs + BLOCK_MS),
    ).unref();
  }

  /** Closes a device and its sources' resamplers. */
  private releaseLink(link: PlaybackLink): void {
    releasePlaybackDevice(link);
    for (const feed of link.feeds.values()) feed.toDevice?.close();
    link.feeds.clear();
  }

  /** The most audio a source of the device has waiting in its ring (samples per channel at the device's rate). */
  private queuedFrames(link: PlaybackLink): number {
    let most = 0;
    for (const feed of link.feeds.values()) {
      most = Math.max(most, link.mixer.bufferedFrames(feed.slot));
    }
    return most;
  }

  private fail(error: Error): void {
    void this.aclose()
      .catch(reportUncaught)
      .finally(() => emitIsolated(this, 'error', error));
  }

  /**
   * Plays a track (typically a remote participant's): its audio is received at the player's rate and channels and
   * kept under the latency cap. Call {@link start} to hear it.
   * @throws InvalidOptionError for anything but an audio track; MediaDevicesError if the track was already added,
   *   the player already plays 32 sources, or it is closed.
   */
  async addTrack(track: Track): Promise<void> {
    this.checkOpen();
    if (!(track instanceof Track) || track.kind !== TrackKind.KIND_AUDIO) {
      throw new InvalidOptionError('track', track, 'an audio track');
    }
    if (this.tracks.has(track))
      throw new MediaDevicesError(`track ${track.sid} is already playing`);
    this.checkRoom();
    const audioStream = new AudioStream(track, {
      sampleRate: this.sampleRate,
      numChannels: this.numChannels,
    });
    this.tracks.set(track, this.createSource(audioStream, true, `track ${track.sid}`));
  }

  /** Stops playing a track and closes its AudioStream. Unknown tracks are ignored. */
  async removeTrack(track: Track): Promise<void> {
    this.forgetEnded(track);
    const source = this.tracks.get(track);
    if (!source) return;
    this.tracks.delete(track);
    await this.retireSource(source);
  }

  /**
   * Plays any stream of frames: a WAV file, an agent's text-to-speech, a generator. Frames of any rate and channel
   * count are converted. A pulled stream plays in real time, nothing dropped; `live: true` treats it like a track.
   * When it ends, it is removed, and `streamEnded` fires once the device has taken its last audio.
   * @throws MediaDevicesError if the stream was already added, the player already plays 32 sources, or it is
   *   closed.
   */
  addStream(frames: AsyncIterable<AudioFrame>, options: AddStreamOptions = {}): void {
    this.checkOpen();
    if (this.streams.has(frames)) throw new MediaDevicesError('this stream is already playing');
    this.checkRoom();
    this.streams.set(frames, this.createSource(frames, options.live ?? false, 'stream'));
  }

  /**
   * Stops playing a stream: what it had waiting is not played, and its iterator's `return` is called. Unknown
   * streams are ignored.
   */
  async removeStream(frames: AsyncIterable<AudioFrame>): Promise<void> {
    this.forgetEnded(frames);
    const source = this.streams.get(frames);
    if (!source) return;
    this.streams.delete(frames);
    await this.retireSource(source);
  }

  /**
   * Sets how loud a track or stream plays: a linear factor (1 as received, 0 silent, at most 16; the mix saturates
   * rather than wraps), applied by the device callback from its next block on and kept when the player moves to
   * another device. The echo canceller hears the mix as played.
   * @throws InvalidOptionError for a gain outside 0-16; MediaDevicesError for a source the player does not play.
   */
  setGain(source: Track | AsyncIterable<AudioFrame>, gain: number): void {
    this.checkOpen();
    if (typeof gain !== 'number' || !(gain >= 0 && gain <= MAX_GAIN)) {
      throw new InvalidOptionError('gain', gain, `a linear factor from 0 to ${MAX_GAIN}`);
    }
    const playing =
      source instanceof Track
        ? this.tracks.get(source)
        : this.streams.get(source as AsyncIterable<AudioFrame>);
    if (!playing) throw new MediaDevicesError('the player does not play this source');
    this.gains.set(playing, gain);
    const feed = this.link.feeds.get(playing);
    if (feed) this.link.mixer.setGain(feed.slot, gain);
  }

  /** Starts the device: sources added before or after are heard. Starting twice does nothing. */
  async start(): Promise<void> {
    this.checkOpen();
    if (this.started) return;
    this.started = true;
    this.fill(false);
    this.link.stream.start();
  }

  /** @internal The device stream in use now (benchmarks read its counters and events). */
  get deviceStream(): DeviceStream {
    return this.link.stream;
  }

  /** Counters since the player opened. */
  get stats(): Readonly<OutputPlayerStats> {
    const mixed = this.link.mixer.counters();
    const past = this.pastDevices;
    for (const [source, feed] of this.link.feeds) this.noteStarved(this.link, source, feed);
    const sources = [...this.tracks.values(), ...this.streams.values()];
    const sum = (key: keyof PlaybackSourceStats) =>
      sources.reduce((n, s) => n + s.stats[key], this.removedStats[key]);
    return {
      renderedFrames: this.counters.renderedFrames,
      underruns: past.underruns + mixed.underruns,
      underrunFrames: past.underrunFrames + mixed.underrunFrames,
      deviceUnderflows: past.deviceUnderflows + this.link.stream.stats.outputUnderflows,
      droppedFrames: sum('droppedFrames'),
      correctedFrames: sum('correctedFrames'),
      starvedFrames: sum('starvedFrames'),
      reverseFrames: this.counters.reverseFrames,
      processingErrors: this.counters.processingErrors,
      sourceErrors: this.counters.sourceErrors,
      sources: sources.length,
    };
  }

  /** Samples per channel waiting in the device's mixer: the most any source has in its ring (player's rate). */
  get bufferedFrames(): number {
    const { stream } = this.link;
    return Math.round((this.queuedFrames(this.link) * this.sampleRate) / stream.sampleRate);
  }

  /** Whether the player has been closed. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  private checkRoom(): void {
    if (this.tracks.size + this.streams.size >= MAX_SOURCES) {
      throw new MediaDevicesError(`the player already plays ${MAX_SOURCES} sources, its most`);
    }
  }

  private createSource(
    frames: AsyncIterable<AudioFrame>,
    live: boolean,
    what: string,
  ): PlaybackSource {
    const rate = this.sampleRate;
    return new PlaybackSource(frames, {
      live,
      sampleRate: rate,
      channels: this.numChannels,
      prefetchFrames: (rate * PREFETCH_MS) / 1000,
      latencyCapFrames: Math.round((rate * this.latencyCapMs) / 1000),
      trimToFrames: this.targetBufferedFrames,
      onError: (error) => {
        this.counters.sourceErrors++;
        this.deferred.emit(() =>
          emitIsolated(this, 'warning', {
            code: 'source-failed',
            message: `${what} failed and was removed`,
            cause: error,
          }),
        );
      },
      onDrop: (droppedFrames) =>
        this.deferred.emit(() =>
          emitIsolated(this, 'overflow', {
            source: what,
            droppedFrames,
            latencyCapMs: this.latencyCapMs,
            backlogMs: (this.targetBufferedFrames * 1000) / rate,
          }),
        ),
      onAudio: this.fillSoon,
    });
  }

  /**
   * Takes a source out of the mix (what its ring still holds is not played, unless it was finished) and keeps its
   * counts.
   */
  private async retireSource(source: PlaybackSource): Promise<void> {
    const feed = this.link.feeds.get(source);
    if (feed) {
      this.noteStarved(this.link, source, feed);
      this.link.feeds.delete(source);
      this.link.mixer.removeSource(feed.slot);
      feed.toDevice?.close();
    }
    await source.cancel();
    for (const key of Object.keys(this.removedStats) as (keyof PlaybackSourceStats)[]) {
      this.removedStats[key] += source.stats[key];
    }
  }

  /**
   * Arriving audio goes on to the mixer right after the frames that arrive together (one fill for a burst, which is
   * then cut under the cap as a whole) rather than at the next callback's wake-up.
   */
  private readonly fillSoon = (): void => {
    if (this.fillScheduled) return;
    this.fillScheduled = true;
    setImmediate(() => {
      this.fillScheduled = false;
      this.fill(false);
    });
  };

  /**
   * Moves arrived audio on to the mixer and announces sources the device has finished.
   * @param mixed whether the device has just mixed a block (its wake-up), rather than audio having arrived
   */
  private fill(mixed: boolean): void {
    if (this.closing) return;
    // Listeners run once the feed is consistent: one may close the player, or add and remove sources.
    this.deferred.run(() => {
      this.announcePlayedSources();
      this.feedAll(mixed);
    });
  }

  private feedAll(mixed = false): void {
    this.feedSources(this.tracks, mixed);
    this.feedSources(this.streams, mixed);
  }

  /**
   * Tops up each source's ring to its cushion (and, right after the device mixed, lets each note its backlog for its
   * latency correction); a source that has ended is finished in the mixer and leaves.
   */
  private feedSources<K extends AsyncIterable<AudioFrame> | Track>(
    sources: Map<K, PlaybackSource>,
    mixed: boolean,
  ): void {
    const link = this.link;
    for (const [key, source] of sources) {
      const feed = link.feeds.get(source) ?? this.attach(link, source);
      this.noteStarved(link, source, feed);
      const ringFrames = this.topUp(link, source, feed);
      if (mixed) source.noteMixed(ringFrames);
      if (source.finished) {
        sources.delete(key);
        link.feeds.delete(source);
        link.mixer.finishSource(feed.slot);
        feed.toDevice?.close();
        // Its last audio is in its ring: announced once the device has mixed it.
        this.endedSources.push({ frames: key, link, slot: feed.slot });
        void this.retireSource(source);
      }
    }
  }

  /** Gives a source a ring in the device's mixer. */
  private attach(link: PlaybackLink, source: PlaybackSource): SourceFeed {
    const slot = link.mixer.addSource();
    // checkRoom keeps the sources within the mixer's slots; a retiring device's slots are its own mixer's.
    if (slot < 0) throw new AudioBackendError('the device mixer has no free source slot');
    const rate = link.stream.sampleRate;
    const feed: SourceFeed = {
      slot,
      toDevice:
        rate === this.sampleRate
          ? undefined
          : new AudioResampler(this.sampleRate, rate, this.numChannels, AudioResamplerQuality.HIGH),
      starvedFrames: 0,
    };
    link.feeds.set(source, feed);
    const gain = this.gains.get(source);
    if (gain !== undefined) link.mixer.setGain(slot, gain);
    return feed;
  }

  /**
   * Moves 10 ms blocks of a source into its ring while a whole block fits under the source's cushion (or the ring is
   * empty). The ring never holds more than the cushion: a live source's backlog beyond it stays in the source, where
   * its latency cap bounds it.
   * @returns what the ring holds then (samples per channel at the player's rate)
   */
  private topUp(link: PlaybackLink, source: PlaybackSource, feed: SourceFeed): number {
    const { mixer } = link;
    const toPlayerRate = this.toPlayerRate(link);
    const cushion = source.live ? this.targetBufferedFrames : this.pulledCushionFrames;
    for (;;) {
      const queued = mixer.bufferedFrames(feed.slot) * toPlayerRate;
      if (queued > 0 && queued + this.blockFrames > cushion) return queued;
      const frames = source.take(this.block, this.blockFrames);
      if (frames === 0) return queued;
      const samples = this.block.subarray(0, frames * this.numChannels);
      if (!feed.toDevice) {
        mixer.write(feed.slot, samples);
        continue;
      }
      const frame = new AudioFrame(samples.slice(), this.sampleRate, this.numChannels, frames);
      for (const out of feed.toDevice.push(frame)) mixer.write(feed.slot, out.data);
    }
  }

  /** Device frames to the player's: the ratio of the player's rate to the device's. */
  private toPlayerRate(link: PlaybackLink): number {
    return this.sampleRate / link.stream.sampleRate;
  }

  /** Adds what the mixer counted as a source's starved frames since last noted to the source's own count. */
  private noteStarved(link: PlaybackLink, source: PlaybackSource, feed: SourceFeed): void {
    const { starvedFrames } = link.mixer.sourceCounters(feed.slot);
    if (starvedFrames === feed.starvedFrames) return;
    source.noteStarved(Math.round((starvedFrames - feed.starvedFrames) * this.toPlayerRate(link)));
    feed.starvedFrames = starvedFrames;
  }

  /** Fires `streamEnded` / `trackEnded` for ended sources whose last audio the device has mixed. */
  private announcePlayedSources(): void {
    for (let i = 0; i < this.endedSources.length;) {
      const { frames, link, slot } = this.endedSources[i]!;
      // A device switched away from and closed took what it could of the tail.
      const gone = link !== this.link && !this.retiring.has(link);
      if (!gone && !link.mixer.isDrained(slot)) {
        i++;
        continue;
      }
      if (!gone) link.mixer.removeSource(slot);
      this.endedSources.splice(i, 1);
      this.deferred.emit(() =>
        frames instanceof Track
          ? emitIsolated(this, 'trackEnded', frames)
          : emitIsolated(this, 'streamEnded', frames),
      );
    }
  }

  /** An ended source removed before its end was announced: never announced. */
  private forgetEnded(frames: AsyncIterable<AudioFrame> | Track): void {
    const i = this.endedSources.findIndex((e) => e.frames === frames);
    if (i < 0) return;
    const { link, slot } = this.endedSources[i]!;
    this.endedSources.splice(i, 1);
    if (link === this.link || this.retiring.has(link)) link.mixer.removeSource(slot);
  }

  private readonly flushRendered = (): void => this.link.stream.flushRendered();

  /** What the device played, cut into 10 ms frames stamped with their DAC time, for the echo canceller. */
  private onRendered(link: PlaybackLink, audio: TimedAudio): void {
    // A device switched away from: what it still played is not the far end any more.
    if (link !== this.link) return;
    const { stream, fromDevice } = link;
    let offset = 0;
    for (const block of audio.blocks) {
      const length = block.frames * audio.channels;
      this.counters.renderedFrames += block.frames;
      const played = audio.samples.subarray(offset, offset + length);
      offset += length;
      const toFrames = (data: Int16Array, dacTime: number): void => {
        if (!this.processing.apm) return;
        try {
          const frame = new AudioFrame(data, this.sampleRate, this.numChannels, this.blockFrames);
          this.processing.render(frame, dacTime, stream.time());
          this.counters.reverseFrames++;
        } catch (error) {
          this.counters.processingErrors++;
          this.deferred.emit(() =>
            emitIsolated(this, 'warning', {
              code: 'processing-failed',
              message: 'the echo canceller failed on a frame',
              cause: error,
            }),
          );
        }
      };
      if (!fromDevice) {
        this.renderSlicer.push(played, block.dacTime, toFrames);
        continue;
      }
      const frame = new AudioFrame(
        played.slice(),
        stream.sampleRate,
        this.numChannels,
        block.frames,
      );
      for (const out of fromDevice.push(frame))
        this.renderSlicer.push(out.data, block.dacTime, toFrames);
    }
  }

  private checkOpen(): void {
    if (this.closing) throw new MediaDevicesError('the output player is closed');
  }

  /** Stops playback, closes the device stream and every track's AudioStream. Safe to call twice. */
  aclose(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  /** Same as {@link aclose} (rtc-node names it `close`). */
  close(): Promise<void> {
    return this.aclose();
  }

  /** `await using player = devices.openOutput()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  private async closeAll(): Promise<void> {
    this.switcher.stopFollowing();
    this.processing.detachRenderer(this.flushRendered);
    this.link.watchdog?.stop();
    this.releaseLink(this.link);
    for (const link of this.retiring) this.releaseLink(link);
    this.retiring.clear();
    const sources = [...this.tracks.values(), ...this.streams.values()];
    this.tracks.clear();
    this.streams.clear();
    await Promise.all(sources.map((s) => this.retireSource(s)));
  }
}
