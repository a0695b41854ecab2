/**
 * The mutation check's faults (scripts/mutation_faults.ts) and their exact edits (scripts/source_edit.ts), without
 * running the check itself (`npm run test:mutations`, which takes many minutes): an edit lands exactly where its
 * search text is or fails with a clear error, and every fault still applies to the sources as they are now.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FAULTS, faultySource } from '../scripts/mutation_faults.js';
import { applyEdits, SourceEditError } from '../scripts/source_edit.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('applyEdits', () => {
  it('replaces a search text found exactly once, each edit on what the one before left', () => {
    const text = 'a = 1;\nb = 2;\n';
    expect(applyEdits(text, [{ search: 'b = 2;', replace: 'b = 3;' }], 'x.ts')).toBe(
      'a = 1;\nb = 3;\n',
    );
    const edits = [
      { search: 'a = 1;', replace: 'a = 1;\nc = 0;' },
      { search: 'c = 0;', replace: 'c = 5;' },
    ];
    expect(applyEdits(text, edits, 'x.ts')).toBe('a = 1;\nc = 5;\nb = 2;\n');
    // Replacement text is taken literally (no `$&` patterns).
    expect(applyEdits(text, [{ search: 'a', replace: '$&$1' }], 'x.ts')).toBe(
      '$&$1 = 1;\nb = 2;\n',
    );
  });

  it('throws SourceEditError naming the file and the text when it is missing, repeated or empty', () => {
    const text = 'x = 1;\nx = 1;\ny = 2;\n';
    const attempt = (search: string) => () =>
      applyEdits(text, [{ search, replace: '' }], 'src/f.ts');
    expect(attempt('z = 3;')).toThrow(SourceEditError);
    expect(attempt('z = 3;')).toThrow(/^src\/f\.ts: .*exactly once, not found[^]*\nz = 3;$/);
    expect(attempt('x = 1;')).toThrow(/src\/f\.ts: .*found 2 times/);
    // Overlapping occurrences count too.
    expect(() => applyEdits('aaa', [{ search: 'aa', replace: 'b' }], 'f.ts')).toThrow(
      /found 2 times/,
    );
    expect(attempt('')).toThrow(/not found/);
  });
});

describe('the mutation check', () => {
  it('has faults with distinct ids, each of which still applies to the sources and names its test files', () => {
    expect(FAULTS.length).toBeGreaterThanOrEqual(8);
    expect(new Set(FAULTS.map((f) => f.id)).size).toBe(FAULTS.length);
    for (const fault of FAULTS) {
      expect(fault.tests.length, fault.id).toBeGreaterThan(0);
      // Throws when a search text no longer occurs exactly once, or a test file is missing or unsuitable.
      expect(() => faultySource(ROOT, fault), fault.id).not.toThrow();
    }
  });

  it('refuses a test file that runs npm or needs dist/', () => {
    const fault = { ...FAULTS[0]!, tests: ['test/demo.test.ts'] };
    expect(() => faultySource(ROOT, fault)).toThrow(/demo\.test\.ts runs npm run demo/);
  });
});
