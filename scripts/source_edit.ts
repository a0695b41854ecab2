/**
 * Exact text edits of a source file, for the mutation check (scripts/mutations.ts): each edit replaces a search text
 * that must occur exactly once, so that a fault written against the code either lands where it was meant to or
 * fails loudly once the code has changed, never silently somewhere else or nowhere.
 */

/** One replacement: `search` must occur exactly once in the text it is applied to. */
export interface SourceEdit {
  search: string;
  replace: string;
}

/** An edit whose search text does not occur exactly once. */
export class SourceEditError extends Error {
  override readonly name = 'SourceEditError';
}

/** How many times `search` occurs in `text`, counting overlapping occurrences. */
function occurrences(text: string, search: string): number {
  let count = 0;
  for (let at = text.indexOf(search); at >= 0; at = text.indexOf(search, at + 1)) count++;
  return count;
}

/**
 * Applies the edits in order, each to the text the previous ones left.
 * @param text the file's content
 * @param edits the replacements
 * @param file the file's name, for the error message
 * @returns the edited text
 * @throws SourceEditError naming the file and the search text when a search text is empty, missing or found more
 *   than once
 */
export function applyEdits(text: string, edits: readonly SourceEdit[], file: string): string {
  let out = text;
  for (const { search, replace } of edits) {
    const count = search === '' ? 0 : occurrences(out, search);
    if (count !== 1) {
      const found = count === 0 ? 'not found' : `found ${count} times`;
      throw new SourceEditError(
        `${file}: the search text must occur exactly once, ${found} (the code changed? update the fault):\n` +
          search,
      );
    }
    const at = out.indexOf(search);
    out = out.slice(0, at) + replace + out.slice(at + search.length);
  }
  return out;
}
