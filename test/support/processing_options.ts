/** openInput options with every stage of audio processing off: the microphone's audio as it comes. */
export const NO_PROCESSING = {
  enableAec: false,
  noiseSuppression: false,
  highPassFilter: false,
  autoGainControl: false,
} as const;
