/**
 * A scratch copy of the repository for the mutation check (scripts/mutations.ts): the files of the working tree
 * that git knows of or would add (tracked, and untracked ones not ignored), as they are now, uncommitted changes
 * included, copied into a new directory. node_modules and the native build (build/) are links to the working tree's:
 * nothing may install or build into a scratch copy, since that would write through the links.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** What a scratch copy links to instead of copying. */
const LINKED = ['node_modules', 'build'];

/** The working tree's files git tracks or would add, relative to `root`. */
function workingTreeFiles(root: string): string[] {
  const listed = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  // A tracked file deleted in the working tree is still listed: it is left out, as the working tree has it.
  return listed.split('\0').filter((file) => file !== '' && existsSync(join(root, file)));
}

/**
 * Copies the working tree at `root` into `dir` (created, with its parents), linking node_modules and build/.
 * @throws when `root` lacks node_modules or the native build (run `bash scripts/setup.sh` first)
 */
export function makeScratchCopy(root: string, dir: string): void {
  for (const name of LINKED) {
    if (!existsSync(join(root, name))) {
      throw new Error(`${join(root, name)} is missing: run bash scripts/setup.sh first`);
    }
  }
  mkdirSync(dir, { recursive: true });
  for (const file of workingTreeFiles(root)) {
    const target = join(dir, file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(root, file), target);
  }
  for (const name of LINKED) symlinkSync(join(root, name), join(dir, name), 'dir');
}
