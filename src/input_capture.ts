import { AudioFrame, type AudioResampler, type AudioSource } from '@livekit/rtc-node';
import { EventEmitter } from 'node:events';
import type { AudioProcessingModule } from './apm.js';
import type { AudioDevice, DeviceSelector } from './audio_device.js';
import type { CatalogEntry, DeviceCatalog } from './backend/device_catalog.js';
import { mapChannels } from './channel_mapping.js';
import type { DelayEstimator } from './delay_estimator.js';
import type { DeviceStream, TimedAudio } from './device_stream.js';
import { DeferredEvents } from './deferred_events.js';
import {
  DeviceSwitcher,
  type DeviceChange,
  type DeviceChangeSource,
  type SwitchableDevice,
} from './device_switch.js';
import { AudioBackendError, DeviceLostError, MediaDevicesError } from './errors.js';
import { DeviceWatchdog } from './device_watchdog.js';
import { FrameSlicer } from './frame_slicer.js';
import { emitIsolated, reportUncaught } from './listener_isolation.js';
import type { SharedAudioProcessing } from './shared_audio_processing.js';

/** Counters of an {@link InputCapture}, all since it opened. */
export interface InputCaptureStats {
  /** 10 ms frames handed to the AudioSource. */
  framesCaptured: number;
  /** Frames dropped from a full queue, oldest first (each one also fired an `overflow` event). */
  framesDropped: number;
  /** Frames waiting in the queue now. */
  queueLength: number;
  /** Device callbacks that PortAudio flagged as input overflow (the device lost samples). */
  deviceOverflows: number;
  /** Samples per channel lost because JavaScript did not drain the device ring in time (an event-loop stall). */
  deviceDroppedFrames: number;
  /** Frames the audio processing module failed on (published unprocessed; each fired a `warning`). */
  processingErrors: number;
  /** The stream delay given to the processing module for the last frame (ms). */
  streamDelayMs: number;
}

/** Timing of one captured frame, on the device clock. */
export interface CapturedFrameTiming {
  /** When the frame's first sample reached the ADC (s). */
  adcTime: number;
  /** When the frame was handed to the AudioSource (s). */
  capturedAt: number;
}

/** Payload of the `overflow` event. */
export interface InputOverflow {
  /** Frames dropped by this overflow (the oldest in the queue). */
  dropped: number;
  /** The queue's capacity (frames). */
  queueCapacity: number;
}

/** Payload of the `warning` event: a fault the capture survived. */
export interface InputCaptureWarning {
  /**
   * `processing-failed`: a frame went out unprocessed; `device-overflow` / `frames-lost`: audio was lost;
   * `device-switch-failed`: following the default, moving to the new default failed (the capture stays where it
   * was).
   */
  code: 'processing-failed' | 'device-overflow' | 'frames-lost' | 'device-switch-failed';
  /** Human-readable description. */
  message: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * Events of an {@link InputCapture}. They fire between blocks of device audio, so a listener may close the capture.
 * A listener that throws is reported as an `uncaughtException` (the process ends as with any uncaught exception
 * unless it handles that); the capture and the other listeners go on.
 */
export interface InputCaptureEvents {
  /**
   * A fatal fault (the device went away: {@link DeviceLostError}; the AudioSource refused a frame): the capture is
   * already closed. An `error` without a listener is reported as an `uncaughtException`.
   */
  error: [error: Error];
  /**
   * The capture moved to another device ({@link InputCapture.setInputDevice}, or following the default): the same
   * `source` goes on, with the new device's audio from the first block it delivered.
   */
  deviceChanged: [change: DeviceChange];
  /** The queue was full: the oldest frames were dropped so latency stays bounded. */
  overflow: [info: InputOverflow];
  /** A fault the capture survived; counted in {@link InputCaptureStats} as well. */
  warning: [warning: InputCaptureWarning];
  /** A processed 10 ms frame, as it is handed to the AudioSource (emitted only while there is a listener). */
  frame: [frame: AudioFrame, timing: CapturedFrameTiming];
}

/**
 * @internal A device opened for capture: its input stream and, when the device runs at another rate, the resampler
 * to the capture's rate.
 */
export interface CaptureDevice {
  stream: DeviceStream;
  resampler: AudioResampler | undefined;
}

/** @internal Closes a capture device's stream and resampler. */
export function releaseCaptureDevice(device: CaptureDevice): void {
  device.stream.close();
  device.resampler?.close();
}

/** @internal What MediaDevices.openInput hands to an InputCapture. */
export interface InputCaptureParts {
  /** The device to start with (opened, not started). */
  device: CaptureDevice;
  /** Opens another device the same way (for a switch). */
  openDevice: (entry: CatalogEntry, catalog: DeviceCatalog) => CaptureDevice;
  /** The MediaDevices, for `devicechange` while following the default. */
  devices: DeviceChangeSource;
  followDefault: boolean;
  source: AudioSource;
  processing: SharedAudioProcessing;
  apm: AudioProcessingModule | undefined;
  sampleRate: number;
  numChannels: number;
  queueCapacity: number;
  inputChannelIndex: number | undefined;
}

/** One device feeding the capture. */
interface CaptureLink extends CaptureDevice {
  /** The sample position (per channel) the stream's next block should start at; a later one means a loss. */
  expectedPosition: number;
  /** The device-clock time just after the last sample received (s). */
  endTime: number;
  watchdog: DeviceWatchdog | undefined;
}

// How long a device switched to may take to deliver its first audio before the switch fails (ms). The rig's
// virtual microphones take 15-25 ms; a real device waking up, or a loaded machine, much longer.
const FIRST_AUDIO_TIMEOUT_MS = 2000;

/**
 * Microphone capture into an rtc-node `AudioSource`, opened by {@link MediaDevices.openInput}.
 *
 * Device audio is cut into exact 10 ms frames, mapped to the requested channels, resampled when the device runs at
 * another rate, processed by the shared {@link AudioProcessingModule} (echo cancellation, noise suppression,
 * high-pass filter, gain control) with the stream delay measured from device timestamps, and queued for
 * `source.captureFrame`. Publish it with `LocalAudioTrack.createAudioTrack(name, capture.source)`. It can move to
 * another microphone while it runs ({@link setInputDevice}, or `followDefault`), with the same `source`.
 */
export class InputCapture extends EventEmitter<InputCaptureEvents> {
  /** The AudioSource that receives the processed 10 ms frames; the same for the capture's whole life. */
  readonly source: AudioSource;
  /** The audio processing module, when any processing option is on. Shared with the output player. */
  readonly apm: AudioProcessingModule | undefined;
  /** Combines render and capture timestamps into the processing module's stream delay. */
  readonly delayEstimator: DelayEstimator;
  /** Sample rate of the frames (Hz). */
  readonly sampleRate: number;
  /** Channels of the frames. */
  readonly numChannels: number;
  /** Queue capacity (frames of 10 ms). */
  readonly queueCapacity: number;

  private link: CaptureLink;
  private readonly openDevice: InputCaptureParts['openDevice'];
  private readonly switcher: DeviceSwitcher;
  private pendingMove: { link: CaptureLink; abandon: (error: Error) => void } | undefined;
  private readonly processing: SharedAudioProcessing;
  private readonly slicer: FrameSlicer;
  private readonly inputChannelIndex: number | undefined;
  private readonly queue: { frame: AudioFrame; adcTime: number }[] = [];
  private wakePump: (() => void) | undefined;
  private readonly pumpDone: Promise<void>;
  private readonly deferred = new DeferredEvents();
  private closing: Promise<void> | undefined;
  private readonly counters: InputCaptureStats = {
    framesCaptured: 0,
    framesDropped: 0,
    queueLength: 0,
    deviceOverflows: 0,
    deviceDroppedFrames: 0,
    processingErrors: 0,
    streamDelayMs: 0,
  };

  /** @internal Use {@link MediaDevices.openInput}. */
  constructor(parts: InputCaptureParts) {
    super();
    this.link = { ...parts.device, expectedPosition: 0, endTime: 0, watchdog: undefined };
    this.openDevice = parts.openDevice;
    this.source = parts.source;
    this.processing = parts.processing;
    this.apm = parts.apm;
    this.delayEstimator = parts.processing.delayEstimator;
    this.sampleRate = parts.sampleRate;
    this.numChannels = parts.numChannels;
    this.queueCapacity = parts.queueCapacity;
    this.inputChannelIndex = parts.inputChannelIndex;
    this.slicer = new FrameSlicer(parts.sampleRate / 100, parts.numChannels, parts.sampleRate);
    // Started first: when the device refuses, nothing else has been set up (MediaDevices releases the parts).
    this.link.stream.start();
    this.listen(this.link);
    this.pumpDone = this.pump();
    this.link.watchdog = this.watch(this.link);
    const target: SwitchableDevice = {
      kind: 'audioinput',
      currentDevice: () => this.device,
      isClosed: () => this.closed,
      checkOpen: () => this.checkOpen(),
      moveTo: (entry, catalog) => this.moveTo(entry, catalog),
      moved: (change) => emitIsolated(this, 'deviceChanged', change),
      followFailed: (error) =>
        this.warn(
          'device-switch-failed',
          'moving to the new default input device failed; the capture stays on its device',
          error,
        ),
      lost: (error) => this.fail(error),
    };
    this.switcher = new DeviceSwitcher(target, parts.devices, parts.followDefault);
  }

  /** The device captured from now (it changes when the capture moves). */
  get device(): AudioDevice {
    return this.link.stream.inputDevice!;
  }

  /** Whether the capture follows the system default input (`followDefault`, until {@link setInputDevice}). */
  get followsDefault(): boolean {
    return this.switcher.followsDefault;
  }

  /**
   * Moves the running capture to another microphone, chosen as `openInput` chooses one (index, id or name
   * substring), keeping its `source`, its echo canceller and its queue: the new device is opened and started
   * while the old one still captures, and takes over at its first block of audio (no gap; the old device's last
   * audio is kept). Then `deviceChanged` fires with reason `requested`, and following the default (if it did)
   * ends. Moves run one after another; asking for the device in use only ends following the default.
   * @returns resolves once the new device delivers audio.
   * @throws (rejects) DeviceNotFoundError, AmbiguousDeviceError, DeviceCapabilityError, AudioBackendError (the
   *   device refused to open, or gave no audio within 2 s); the old device then still captures. MediaDevicesError
   *   when the capture is closed, or closes before the move is done.
   */
  setInputDevice(selector: DeviceSelector): Promise<void> {
    return this.switcher.request(selector);
  }

  /** @internal The device stream in use now (benchmarks read its counters and events). */
  get deviceStream(): DeviceStream {
    return this.link.stream;
  }

  /** Counters since the capture opened. */
  get stats(): Readonly<InputCaptureStats> {
    return { ...this.counters, queueLength: this.queue.length };
  }

  /** Whether the capture has been closed (by {@link aclose} or a fatal error). */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  private checkOpen(): void {
    if (this.closing) throw new MediaDevicesError('the input capture is closed');
  }

  private listen(link: CaptureLink): void {
    link.stream.on('input', (audio) =>
      this.deferred.run(() => {
        if (link !== this.link) {
          // A device being switched to delivered its first audio: it takes over.
          if (this.pendingMove?.link !== link) return;
          this.handOver(link);
        }
        this.onDeviceAudio(link, audio);
      }),
    );
  }

  private watch(link: CaptureLink): DeviceWatchdog {
    return new DeviceWatchdog(
      link.stream,
      () => !this.closing && link === this.link,
      () => {
        if (this.switcher.deviceStopped(link.stream.inputDevice!)) return;
        this.fail(
          new DeviceLostError(
            link.stream.inputDevice!.id,
            `the input device ${link.stream.inputDevice!.id} stopped delivering audio (lost or failed)`,
          ),
        );
      },
    );
  }

  /** Opens and starts another device; resolves once it has taken over (see {@link setInputDevice}). */
  private moveTo(entry: CatalogEntry, catalog: DeviceCatalog): Promise<void> {
    this.checkOpen();
    const device = this.openDevice(entry, catalog);
    try {
      device.stream.start();
    } catch (error) {
      releaseCaptureDevice(device);
      throw error;
    }
    const link: CaptureLink = { ...device, expectedPosition: 0, endTime: 0, watchdog: undefined };
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          abandon(
            new AudioBackendError(
              `the input device ${entry.device.id} delivered no audio within ${FIRST_AUDIO_TIMEOUT_MS} ms`,
            ),
          ),
        FIRST_AUDIO_TIMEOUT_MS,
      );
      const abandon = (error: Error): void => {
        clearTimeout(timer);
        this.pendingMove = undefined;
        releaseCaptureDevice(link);
        reject(error);
      };
      this.pendingMove = { link, abandon };
      this.listen(link);
      // After the listener above, which hands over at the first audio.
      link.stream.once('input', () => {
        clearTimeout(timer);
        resolve();
      });
    }).finally(() => {
      if (this.pendingMove?.link === link) this.pendingMove = undefined;
    });
  }

  /** The new device takes over: the old one's last audio goes out first, then it is closed. */
  private handOver(next: CaptureLink): void {
    const old = this.link;
    const rest = old.stream.readInput();
    if (rest) this.onDeviceAudio(old, rest);
    if (old.resampler) {
      for (const out of old.resampler.flush()) {
        this.slicer.push(out.data, old.endTime, (data, time) => this.onFrame(data, time));
      }
    }
    old.watchdog?.stop();
    releaseCaptureDevice(old);
    this.pendingMove = undefined;
    this.link = next;
    next.watchdog = this.watch(next);
  }

  private onDeviceAudio(link: CaptureLink, audio: TimedAudio): void {
    if (this.closing) return;
    this.processing.catchUpRender();
    const rate = link.stream.sampleRate;
    let offset = 0;
    for (const block of audio.blocks) {
      const length = block.frames * audio.channels;
      if (block.framePosition > link.expectedPosition)
        this.noteLostFrames(block.framePosition - link.expectedPosition);
      link.expectedPosition = block.framePosition + block.frames;
      link.endTime = block.adcTime + block.frames / rate;
      if (block.statusFlags & 2) {
        this.counters.deviceOverflows++;
        this.warn(
          'device-overflow',
          'the input device overflowed: it lost samples before they reached the callback',
        );
      }
      const mapped = mapChannels(
        audio.samples.subarray(offset, offset + length),
        audio.channels,
        this.numChannels,
        this.inputChannelIndex,
      );
      offset += length;
      if (link.resampler) {
        const input = new AudioFrame(mapped.slice(), rate, this.numChannels, block.frames);
        for (const out of link.resampler.push(input)) {
          this.slicer.push(out.data, block.adcTime, (data, time) => this.onFrame(data, time));
        }
      } else {
        this.slicer.push(mapped, block.adcTime, (data, time) => this.onFrame(data, time));
      }
    }
  }

  private noteLostFrames(frames: number): void {
    this.counters.deviceDroppedFrames += frames;
    // The frame being assembled would straddle the gap: start the next one afresh.
    this.slicer.reset();
    this.warn(
      'frames-lost',
      `${frames} samples per channel were lost: JavaScript did not drain the device in time`,
    );
  }

  private onFrame(data: Int16Array, adcTime: number): void {
    const frame = new AudioFrame(data, this.sampleRate, this.numChannels, this.sampleRate / 100);
    if (this.apm) {
      try {
        this.processing.capture(this.apm, frame, adcTime, this.link.stream.time());
        this.counters.streamDelayMs = this.apm.streamDelayMs;
      } catch (error) {
        this.counters.processingErrors++;
        this.warn(
          'processing-failed',
          'audio processing failed on a frame; it was published unprocessed',
          error,
        );
      }
    }
    this.queue.push({ frame, adcTime });
    if (this.queue.length > this.queueCapacity) {
      const dropped = this.queue.length - this.queueCapacity;
      this.queue.splice(0, dropped);
      this.counters.framesDropped += dropped;
      this.deferred.emit(() =>
        emitIsolated(this, 'overflow', { dropped, queueCapacity: this.queueCapacity }),
      );
    }
    this.wakePump?.();
  }

  private async pump(): Promise<void> {
    while (!this.closing) {
      const next = this.queue.shift();
      if (!next) {
        await new Promise<void>((resolve) => (this.wakePump = resolve));
        this.wakePump = undefined;
        continue;
      }
      if (this.listenerCount('frame') > 0) {
        emitIsolated(this, 'frame', next.frame, {
          adcTime: next.adcTime,
          capturedAt: this.link.stream.time(),
        });
        // A listener closed the capture: the frame goes nowhere.
        if (this.closing) return;
      }
      try {
        await this.source.captureFrame(next.frame);
        this.counters.framesCaptured++;
      } catch (error) {
        if (!this.closing)
          this.fail(new MediaDevicesError('the AudioSource refused a frame', { cause: error }));
        return;
      }
    }
  }

  private warn(code: InputCaptureWarning['code'], message: string, cause?: unknown): void {
    this.deferred.emit(() =>
      emitIsolated(this, 'warning', { code, message, ...(cause === undefined ? {} : { cause }) }),
    );
  }

  private fail(error: Error): void {
    void this.aclose()
      .catch(reportUncaught)
      .finally(() => emitIsolated(this, 'error', error));
  }

  /**
   * Stops capture and closes the device stream (and one being switched to), the AudioSource and the processing
   * module. Safe to call twice.
   */
  aclose(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  /** Same as {@link aclose} (rtc-node names it `close`). */
  close(): Promise<void> {
    return this.aclose();
  }

  /** `await using capture = devices.openInput()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.aclose();
  }

  private async closeAll(): Promise<void> {
    this.switcher.stopFollowing();
    this.pendingMove?.abandon(
      new MediaDevicesError('the input capture closed during the device switch'),
    );
    this.link.watchdog?.stop();
    releaseCaptureDevice(this.link);
    this.queue.length = 0;
    this.wakePump?.();
    await this.pumpDone;
    if (this.apm) this.processing.release(this.apm);
    await this.source.close();
  }
}
