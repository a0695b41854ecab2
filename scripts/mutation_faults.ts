/**
 * The deliberate faults of the mutation check (scripts/mutations.ts): each a small, exact edit of one source file
 * that breaks one thing the package promises, and the test files that should notice. The check runs each fault in a
 * scratch copy and fails if the tests pass with it. test/mutation_faults.test.ts checks on every `npm test` that each
 * fault still applies to the current sources, so a fault cannot silently rot when the code changes.
 *
 * Test files that run npm (test/demo.test.ts, test/installed_package.test.ts) or need dist/ (test/cli.test.ts,
 * test/join.test.ts) are not for faults: the scratch copy shares node_modules and has no build of its own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyEdits, type SourceEdit } from './source_edit.js';

/** One deliberate fault. */
export interface Fault {
  /** Short name, used on the command line (`npm run test:mutations -- <id> ...`). */
  id: string;
  /** What the fault does to the package, in a few words. */
  description: string;
  /** The source file it edits, relative to the repository's root. */
  file: string;
  /** The edits, applied in order; each search text must occur exactly once. */
  edits: readonly SourceEdit[];
  /** The test files that should fail with the fault (relative to the root). */
  tests: readonly string[];
  /**
   * Only the tests of those files whose full name matches this regular expression (vitest's `-t`): for files whose
   * other tests take minutes and do not bear on the fault.
   */
  testNamePattern?: string;
}

/** Test files a fault must not name (see the top of this file), with the reason. */
export const UNSUITABLE_TEST_FILES: ReadonlyMap<string, string> = new Map([
  ['test/demo.test.ts', 'runs npm run demo, whose set-up step may run npm ci'],
  ['test/installed_package.test.ts', 'runs npm run package and npm install'],
  ['test/cli.test.ts', 'runs the built dist/, which the scratch copy does not have'],
  ['test/join.test.ts', 'runs the built dist/, which the scratch copy does not have'],
]);

const PROCESS_STREAM = '    module.processStream(frame);\n';
/** The output player's tests that count every sample of a stream heard, at 48, 44.1 and 16 kHz. */
const PULLED_STREAMS = 'plays a pulled';
/** The echo-cancellation call that checks both ERLE and the near end's level (the chirp's), input opened first. */
const AEC_CALL = 'removes .* echo .*input-first';

export const FAULTS: readonly Fault[] = [
  {
    id: 'processed-muted',
    description: 'the processed microphone frame muted',
    file: 'src/shared_audio_processing.ts',
    edits: [{ search: PROCESS_STREAM, replace: `${PROCESS_STREAM}    frame.data.fill(0);\n` }],
    tests: ['test/echo_cancellation.test.ts'],
    testNamePattern: AEC_CALL,
  },
  {
    id: 'processed-halved',
    description: 'the processed microphone frame halved in level (-6 dB)',
    file: 'src/shared_audio_processing.ts',
    edits: [
      {
        search: PROCESS_STREAM,
        replace:
          PROCESS_STREAM +
          '    for (let i = 0; i < frame.data.length; i++) frame.data[i] = frame.data[i]! >> 1;\n',
      },
    ],
    tests: ['test/echo_cancellation.test.ts'],
    testNamePattern: AEC_CALL,
  },
  {
    id: 'apm-bypassed',
    description: 'the microphone frame left unprocessed (processing module bypassed)',
    file: 'src/shared_audio_processing.ts',
    edits: [{ search: PROCESS_STREAM, replace: '' }],
    tests: ['test/echo_cancellation.test.ts'],
    testNamePattern: AEC_CALL,
  },
  {
    id: 'reverse-skipped',
    description:
      'what the speaker played never reaches the echo canceller (reverse stream skipped)',
    file: 'src/shared_audio_processing.ts',
    edits: [{ search: '    this.module.processReverseStream(frame);\n', replace: '' }],
    tests: ['test/echo_cancellation.test.ts'],
    testNamePattern: AEC_CALL,
  },
  {
    id: 'capture-frame-dropped',
    description: 'every 10th captured 10 ms frame dropped',
    file: 'src/input_capture.ts',
    edits: [
      {
        search: '  private closing: Promise<void> | undefined;\n',
        replace: '  private closing: Promise<void> | undefined;\n  private faultFrames = 0;\n',
      },
      {
        search: '    this.queue.push({ frame, adcTime });\n',
        replace: '    if (++this.faultFrames % 10 !== 0) this.queue.push({ frame, adcTime });\n',
      },
    ],
    tests: ['test/input_capture.test.ts'],
  },
  {
    id: 'channels-swapped',
    description:
      'the capture takes the other channel of a stereo microphone than the one asked for',
    file: 'src/channel_mapping.ts',
    edits: [
      {
        search: 'const v = samples[i * from + pick]!;',
        replace: 'const v = samples[i * from + (from - 1 - pick)]!;',
      },
    ],
    tests: ['test/input_capture.test.ts'],
  },
  {
    id: 'capture-resampler-short',
    description: "the capture's resampler output one sample short per block",
    file: 'src/input_capture.ts',
    edits: [
      {
        search: 'this.slicer.push(out.data, block.adcTime,',
        replace: 'this.slicer.push(out.data.subarray(this.numChannels), block.adcTime,',
      },
    ],
    tests: ['test/input_capture.test.ts'],
  },
  {
    id: 'capture-errors-swallowed',
    description:
      'the capture pump swallows the AudioSource refusing a frame (no error, not closed)',
    file: 'src/input_capture.ts',
    edits: [
      {
        search:
          '      } catch (error) {\n' +
          '        if (!this.closing)\n' +
          "          this.fail(new MediaDevicesError('the AudioSource refused a frame', { cause: error }));\n" +
          '        return;\n' +
          '      }\n',
        replace: '      } catch {\n        continue;\n      }\n',
      },
    ],
    tests: ['test/input_capture.test.ts'],
  },
  {
    id: 'player-dropout',
    description: 'the player zeroes 10 ms of output every second',
    file: 'src/output_player.ts',
    edits: [
      {
        search: '  private fillScheduled = false;\n',
        replace: '  private fillScheduled = false;\n  private faultBlocks = 0;\n',
      },
      {
        search: '        mixer.write(feed.slot, samples);\n',
        replace:
          '        if (++this.faultBlocks % 100 === 0) samples.fill(0);\n' +
          '        mixer.write(feed.slot, samples);\n',
      },
    ],
    tests: ['test/output_player.test.ts'],
    testNamePattern: PULLED_STREAMS,
  },
  {
    id: 'player-resampler-short',
    description:
      "the player's resampler output one sample short per block (streams at other rates)",
    file: 'src/playback_source.ts',
    edits: [
      {
        search: 'this.resampler.push(input)) this.push(out.data);',
        replace: 'this.resampler.push(input)) this.push(out.data.subarray(this.channels));',
      },
    ],
    tests: ['test/output_player.test.ts'],
    testNamePattern: PULLED_STREAMS,
  },
  {
    id: 'delay-estimate-late',
    description: 'the echo-path delay given to the echo canceller 20 ms too long',
    file: 'src/delay_estimator.ts',
    edits: [
      {
        search: '(this.renderDelaySeconds ?? 0)) * 1000),',
        replace: '(this.renderDelaySeconds ?? 0)) * 1000) + 20,',
      },
    ],
    tests: ['src/frame_slicer.test.ts'],
  },
  {
    id: 'device-loss-unreported',
    description: 'a lost device never reported (the watchdog notices nothing)',
    file: 'src/device_watchdog.ts',
    edits: [
      {
        search: 'if (this.watching() && this.lost()) onLost();',
        replace: 'if (this.watching()) this.lost();',
      },
    ],
    tests: ['test/device_loss.test.ts'],
    testNamePattern: 'the sound server dying',
  },
];

/**
 * The source of a fault's file with the fault in it, read from the repository at `root`; checks that the fault's
 * test files exist and suit a scratch copy.
 * @throws SourceEditError when a search text does not occur exactly once (the code changed: update the fault);
 *   Error for a test file that is missing or unsuitable
 */
export function faultySource(root: string, fault: Fault): string {
  for (const test of fault.tests) {
    const unsuitable = UNSUITABLE_TEST_FILES.get(test);
    if (unsuitable) throw new Error(`fault ${fault.id}: ${test} ${unsuitable}`);
    if (!existsSync(join(root, test))) throw new Error(`fault ${fault.id}: ${test} does not exist`);
  }
  return applyEdits(readFileSync(join(root, fault.file), 'utf8'), fault.edits, fault.file);
}
