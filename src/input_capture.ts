import { AudioFrame, type AudioResampler, type AudioSource } from '@livekit/rtc-node';
import { EventEmitter } from 'node:events';
import type { AudioProcessingModule } from './apm.js';
import type { AudioDevice } from './audio_device.js';
import { mapChannels } from './channel_mapping.js';
import type { DelayEstimator } from './delay_estimator.js';
import type { DeviceStream, TimedAudio } from './device_stream.js';
import { DeferredEvents } from './deferred_events.js';
import { AudioBackendError, MediaDevicesError } from './errors.js';
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
  /** `processing-failed`: a frame went out unprocessed; `device-overflow` / `frames-lost`: audio was lost. */
  code: 'processing-failed' | 'device-overflow' | 'frames-lost';
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
   * A fatal fault (the device went away, the AudioSource refused a frame): the capture is already closed.
   * An `error` without a listener is reported as an `uncaughtException`.
   */
  error: [error: Error];
  /** The queue was full: the oldest frames were dropped so latency stays bounded. */
  overflow: [info: InputOverflow];
  /** A fault the capture survived; counted in {@link InputCaptureStats} as well. */
  warning: [warning: InputCaptureWarning];
  /** A processed 10 ms frame, as it is handed to the AudioSource (emitted only while there is a listener). */
  frame: [frame: AudioFrame, timing: CapturedFrameTiming];
}

/** @internal What MediaDevices.openInput hands to an InputCapture. */
export interface InputCaptureParts {
  stream: DeviceStream;
  source: AudioSource;
  processing: SharedAudioProcessing;
  apm: AudioProcessingModule | undefined;
  resampler: AudioResampler | undefined;
  sampleRate: number;
  numChannels: number;
  queueCapacity: number;
  inputChannelIndex: number | undefined;
}

/**
 * Microphone capture into an rtc-node `AudioSource`, opened by {@link MediaDevices.openInput}.
 *
 * Device audio is cut into exact 10 ms frames, mapped to the requested channels, resampled when the device runs at
 * another rate, processed by the shared {@link AudioProcessingModule} (echo cancellation, noise suppression,
 * high-pass filter, gain control) with the stream delay measured from device timestamps, and queued for
 * `source.captureFrame`. Publish it with `LocalAudioTrack.createAudioTrack(name, capture.source)`.
 */
export class InputCapture extends EventEmitter<InputCaptureEvents> {
  /** The AudioSource that receives the processed 10 ms frames. */
  readonly source: AudioSource;
  /** The audio processing module, when any processing option is on. Shared with the output player. */
  readonly apm: AudioProcessingModule | undefined;
  /** Combines render and capture timestamps into the processing module's stream delay. */
  readonly delayEstimator: DelayEstimator;
  /** The device captured from. */
  readonly device: AudioDevice;
  /** Sample rate of the frames (Hz). */
  readonly sampleRate: number;
  /** Channels of the frames. */
  readonly numChannels: number;
  /** Queue capacity (frames of 10 ms). */
  readonly queueCapacity: number;

  private readonly stream: DeviceStream;
  private readonly processing: SharedAudioProcessing;
  private readonly resampler: AudioResampler | undefined;
  private readonly slicer: FrameSlicer;
  private readonly inputChannelIndex: number | undefined;
  private readonly queue: { frame: AudioFrame; adcTime: number }[] = [];
  private wakePump: (() => void) | undefined;
  private readonly pumpDone: Promise<void>;
  private readonly watchdog: DeviceWatchdog;
  private readonly deferred = new DeferredEvents();
  private expectedPosition = 0;
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
    this.stream = parts.stream;
    this.source = parts.source;
    this.processing = parts.processing;
    this.apm = parts.apm;
    this.delayEstimator = parts.processing.delayEstimator;
    this.resampler = parts.resampler;
    this.device = parts.stream.inputDevice!;
    this.sampleRate = parts.sampleRate;
    this.numChannels = parts.numChannels;
    this.queueCapacity = parts.queueCapacity;
    this.inputChannelIndex = parts.inputChannelIndex;
    this.slicer = new FrameSlicer(parts.sampleRate / 100, parts.numChannels, parts.sampleRate);
    // Started first: when the device refuses, nothing else has been set up (MediaDevices releases the parts).
    this.stream.start();
    this.stream.on('input', (audio) => this.deferred.run(() => this.onDeviceAudio(audio)));
    this.pumpDone = this.pump();
    this.watchdog = new DeviceWatchdog(
      this.stream,
      () => !this.closing,
      () =>
        this.fail(
          new AudioBackendError(
            `the input device ${this.device.id} stopped delivering audio (lost or failed)`,
          ),
        ),
    );
  }

  /** Counters since the capture opened. */
  get stats(): Readonly<InputCaptureStats> {
    return { ...this.counters, queueLength: this.queue.length };
  }

  /** Whether the capture has been closed (by {@link aclose} or a fatal error). */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  private onDeviceAudio(audio: TimedAudio): void {
    if (this.closing) return;
    this.processing.catchUpRender();
    let offset = 0;
    for (const block of audio.blocks) {
      const length = block.frames * audio.channels;
      if (block.framePosition > this.expectedPosition)
        this.noteLostFrames(block.framePosition - this.expectedPosition);
      this.expectedPosition = block.framePosition + block.frames;
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
      if (this.resampler) {
        const input = new AudioFrame(
          mapped.slice(),
          this.stream.sampleRate,
          this.numChannels,
          block.frames,
        );
        for (const out of this.resampler.push(input)) {
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
        this.processing.capture(this.apm, frame, adcTime, this.stream.time());
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
          capturedAt: this.stream.time(),
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

  /** Stops capture and closes the device stream, the AudioSource and the processing module. Safe to call twice. */
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
    this.watchdog.stop();
    this.stream.close();
    this.queue.length = 0;
    this.wakePump?.();
    await this.pumpDone;
    if (this.apm) this.processing.release(this.apm);
    this.resampler?.close();
    await this.source.close();
  }
}
