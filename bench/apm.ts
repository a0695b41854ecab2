/**
 * Cost of one 10 ms processReverseStream + processStream pair (48 kHz mono, all four stages on), through the
 * AudioProcessingModule class and through the raw FFI calls it wraps, measured interleaved in one run so the
 * class's overhead is a ratio. Prints JSON. Run: `npx tsx bench/apm.ts [pairsPerVariant]`.
 *
 * Variants:
 * - `class`: AudioProcessingModule.processReverseStream + processStream (validation, copies, response check).
 * - `raw`: livekitFfiRequest on requests encoded once over fixed buffers: the floor for any wrapper.
 * - `rawEncodeEachCall`: the usual rtc-node style, a protobuf request encoded and a response decoded per call.
 */
import {
  FfiHandle,
  FfiRequest,
  FfiResponse,
  livekitFfiRequest,
  livekitRetrievePtr,
} from '@livekit/rtc-ffi-bindings';
import { AudioProcessingModule } from '../src/apm.js';
import { applyEchoPath, mixInt16, whiteNoiseInt16 } from '../test/support/signal.js';

const RATE = 48000;
const FRAME = RATE / 100;
const PAIRS = Number(process.argv[2] ?? 10_000);
const ROUNDS = 20;
const WARMUP = 300;

// Far end: noise; near end: its echo plus a quieter near-end noise, so every stage has work to do.
const SOURCE_FRAMES = 1000;
const far = whiteNoiseInt16(SOURCE_FRAMES * FRAME, -30, 1);
const mic = mixInt16(
  applyEchoPath(far, RATE, {
    delayMs: 40,
    directGainDb: -9,
    tailMs: 100,
    reflections: 16,
    seed: 2,
  }),
  whiteNoiseInt16(far.length, -50, 3),
);

interface Variant {
  name: string;
  /** The variant's own frame buffers; each pair processes them in place. */
  far: Int16Array;
  mic: Int16Array;
  pair: () => void;
  samplesNs: number[];
  close: () => void;
}

function classVariant(): Variant {
  const apm = new AudioProcessingModule({
    echoCancellation: true,
    noiseSuppression: true,
    highPassFilter: true,
    autoGainControl: true,
  });
  const frame = (data: Int16Array) => ({
    data,
    sampleRate: RATE,
    channels: 1,
    samplesPerChannel: FRAME,
  });
  const far = new Int16Array(FRAME);
  const mic = new Int16Array(FRAME);
  return {
    name: 'class',
    far,
    mic,
    samplesNs: [],
    pair: () => {
      apm.processReverseStream(frame(far));
      apm.processStream(frame(mic));
    },
    close: () => apm.close(),
  };
}

function newRawApm(): FfiHandle {
  const response = FfiResponse.fromBinary(
    livekitFfiRequest(
      new FfiRequest({
        message: {
          case: 'newApm',
          value: {
            echoCancellerEnabled: true,
            noiseSuppressionEnabled: true,
            highPassFilterEnabled: true,
            gainControllerEnabled: true,
          },
        },
      }).toBinary(),
    ),
  );
  if (response.message.case !== 'newApm') throw new Error(`newApm: ${response.message.case}`);
  return new FfiHandle(response.message.value.apm!.handle!.id!);
}

function apmRequest(
  kind: 'apmProcessStream' | 'apmProcessReverseStream',
  handle: FfiHandle,
  data: Int16Array,
): Uint8Array {
  return new FfiRequest({
    message: {
      case: kind,
      value: {
        apmHandle: handle.handle,
        dataPtr: livekitRetrievePtr(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
        size: data.byteLength,
        sampleRate: RATE,
        numChannels: 1,
      },
    },
  }).toBinary();
}

function rawVariant(): Variant {
  const handle = newRawApm();
  const far = new Int16Array(FRAME);
  const mic = new Int16Array(FRAME);
  const reverse = apmRequest('apmProcessReverseStream', handle, far);
  const forward = apmRequest('apmProcessStream', handle, mic);
  return {
    name: 'raw',
    far,
    mic,
    samplesNs: [],
    // No validation, no copy, no response check: just the two native calls.
    pair: () => {
      livekitFfiRequest(reverse);
      livekitFfiRequest(forward);
    },
    close: () => handle.dispose(),
  };
}

function rawEncodeEachCallVariant(): Variant {
  const handle = newRawApm();
  const call = (kind: 'apmProcessStream' | 'apmProcessReverseStream', data: Int16Array) => {
    const response = FfiResponse.fromBinary(livekitFfiRequest(apmRequest(kind, handle, data)));
    const error = (response.message.value as { error?: string } | undefined)?.error;
    if (error !== undefined) throw new Error(error);
  };
  const far = new Int16Array(FRAME);
  const mic = new Int16Array(FRAME);
  return {
    name: 'rawEncodeEachCall',
    far,
    mic,
    samplesNs: [],
    pair: () => {
      call('apmProcessReverseStream', far);
      call('apmProcessStream', mic);
    },
    close: () => handle.dispose(),
  };
}

function quantileUs(sortedNs: number[], q: number): number {
  const at = Math.min(sortedNs.length - 1, Math.floor(q * sortedNs.length));
  return Math.round(sortedNs[at]! / 10) / 100;
}

function main(): void {
  const variants = [classVariant(), rawVariant(), rawEncodeEachCallVariant()];
  // Every variant processes the same audio, each in its own module and frame buffers.
  const position = variants.map(() => 0);
  const run = (index: number, pairs: number, record: boolean): void => {
    const variant = variants[index]!;
    for (let n = 0; n < pairs; n++) {
      const at = (position[index]! % SOURCE_FRAMES) * FRAME;
      position[index]!++;
      variant.far.set(far.subarray(at, at + FRAME));
      variant.mic.set(mic.subarray(at, at + FRAME));
      const start = process.hrtime.bigint();
      variant.pair();
      const elapsed = Number(process.hrtime.bigint() - start);
      if (record) variant.samplesNs.push(elapsed);
    }
  };

  for (let i = 0; i < variants.length; i++) run(i, WARMUP, false);
  const perRound = Math.ceil(PAIRS / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so no variant always runs first (or after the same neighbour).
    for (let k = 0; k < variants.length; k++) run((round + k) % variants.length, perRound, true);
  }
  for (const variant of variants) variant.close();

  const summary = Object.fromEntries(
    variants.map((v) => {
      const sorted = [...v.samplesNs].sort((a, b) => a - b);
      return [
        v.name,
        {
          pairs: sorted.length,
          medianUs: quantileUs(sorted, 0.5),
          p99Us: quantileUs(sorted, 0.99),
        },
      ];
    }),
  ) as Record<string, { pairs: number; medianUs: number; p99Us: number }>;
  const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;
  console.log(
    JSON.stringify(
      {
        benchmark: 'apm processReverseStream + processStream pair',
        sampleRate: RATE,
        channels: 1,
        features: ['echoCancellation', 'noiseSuppression', 'highPassFilter', 'autoGainControl'],
        node: process.version,
        ...summary,
        classOverRaw: {
          medianDifferenceUs:
            Math.round((summary.class!.medianUs - summary.raw!.medianUs) * 100) / 100,
          median: ratio(summary.class!.medianUs, summary.raw!.medianUs),
          p99: ratio(summary.class!.p99Us, summary.raw!.p99Us),
        },
        classOverRawEncodeEachCall: {
          median: ratio(summary.class!.medianUs, summary.rawEncodeEachCall!.medianUs),
        },
      },
      null,
      2,
    ),
  );
}

main();
