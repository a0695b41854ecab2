export * from './errors.js';
export * from './audio_device.js';
export * from './device_stream.js';
export * from './media_devices.js';
