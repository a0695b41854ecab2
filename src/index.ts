export * from './errors.js';
export * from './audio_device.js';
export * from './device_stream.js';
export * from './media_devices.js';
export type { MediaDevicesWarning } from './device_change_watcher.js';
export {
  APM_MAX_CHANNELS,
  APM_MAX_STREAM_DELAY_MS,
  APM_SAMPLE_RATES,
  apmFrameSamples,
  AudioProcessingModule,
  type ApmFrame,
  type AudioProcessingEvents,
  type AudioProcessingOptions,
  type AudioProcessingStats,
  type AudioProcessingWarning,
} from './apm.js';
export * from './wav.js';
export * from './wav_frames.js';
export * from './offline_aec.js';
export * from './delay_estimator.js';
export * from './input_capture.js';
export * from './output_player.js';
export type { DeviceChange, DeviceChangeReason } from './device_switch.js';
export type { PlaybackSourceStats } from './playback_source.js';
export { NO_SOUND_SERVER_LIBRARY_WARNING } from './backend/sound_server_warning.js';
export {
  DEFAULT_SOUND_SERVER_BACKEND,
  SOUND_SERVER_BACKEND_ENV,
  type SoundServerBackend,
} from './backend/sound_server_backend.js';
