// What some tests need beyond the repository (Omniglot, PyTorch, PostgreSQL), and the one rule for
// when it is missing: on a developer's machine the tests that need it are skipped and the reason is
// printed; under CI=true each of them becomes a failing test that says what is missing and how to
// provide it, because a gate that skips what it cannot check passes without checking.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { locateOmniglot } from '../../src/data/omniglot.js';

/** True when the suite runs as CI (CI=true, as `.ci/run` sets it). */
export const IN_CI = ['true', '1'].includes((process.env.CI ?? '').toLowerCase());

export interface Prerequisite {
  /** What is needed, e.g. "Omniglot". */
  readonly name: string;
  /** Checked once, on first use. */
  readonly available: boolean;
  /** Where it was looked for and how to provide it. */
  readonly hint: string;
}

/** A prerequisite whose check runs once, when a test first asks. */
export function prerequisite(name: string, check: () => boolean, hint: string): Prerequisite {
  let available: boolean | undefined;
  return {
    name,
    hint,
    get available() {
      available ??= check();
      return available;
    },
  };
}

const warned = new Set<string>();

function missingMessage(p: Prerequisite): string {
  return `${p.name} is missing: ${p.hint}`;
}

/** Registers, in place of what needs `p`, a skipped test (printing why) or, under CI, a failing one. */
function registerMissing(p: Prerequisite, title: string): void {
  const message = missingMessage(p);
  if (IN_CI) {
    it(`${title} [needs ${p.name}]`, () => {
      throw new Error(`CI=true and ${message}. CI must not skip these tests.`);
    });
    return;
  }
  if (!warned.has(p.name)) {
    warned.add(p.name);
    console.warn(`${message}; the tests that need it are skipped (CI=true fails instead)`);
  }
  it.skip(`${title} [skipped: ${message}]`, () => {});
}

type TestBody = () => unknown;

/**
 * `describe` and `it` that run where `p` is available; elsewhere skipped with the reason printed,
 * or, under CI=true, one failing test each.
 * @example needs(TORCH_PYTHON).describe('layers against PyTorch', () => { ... });
 */
export function needs(p: Prerequisite): {
  describe: (title: string, body: () => void) => void;
  it: (title: string, body: TestBody, timeoutMs?: number) => void;
} {
  return {
    describe: (title, body) => (p.available ? describe(title, body) : describe(title, () => registerMissing(p, title))),
    it: (title, body, timeoutMs) => (p.available ? it(title, body, timeoutMs) : registerMissing(p, title)),
  };
}

/**
 * For suites that choose their cases by what is available (the stores under test): says, as a
 * skipped or (under CI) failing test, that the cases needing `p` were left out.
 */
export function reportIfMissing(p: Prerequisite, title: string): void {
  if (!p.available) describe(title, () => registerMissing(p, title));
}

/** Where Omniglot's two zips are: $TWINSHOT_OMNIGLOT, ../shared/omniglot or the download cache. */
export function findOmniglot(): string | null {
  try {
    const dir = locateOmniglot();
    const zips = ['images_background.zip', 'images_evaluation.zip'];
    return zips.every((zip) => fs.existsSync(path.join(dir, zip))) ? dir : null;
  } catch {
    return null;
  }
}

export const OMNIGLOT = prerequisite(
  'Omniglot',
  () => findOmniglot() !== null,
  'images_background.zip and images_evaluation.zip were found neither in $TWINSHOT_OMNIGLOT, ../shared/omniglot ' +
    'nor the download cache; set TWINSHOT_OMNIGLOT to their folder or run `twinshot data omniglot`',
);

export const PYTHON = process.env.TWINSHOT_PYTHON ?? '/usr/bin/python3';

export const TORCH_PYTHON = prerequisite(
  'PyTorch (python3-torch)',
  () => spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
  `${PYTHON} cannot import torch; install Debian's python3-torch (scripts/setup.sh test does) or set TWINSHOT_PYTHON`,
);

export const POSTGRES = prerequisite(
  'PostgreSQL + pgvector',
  () => Boolean(process.env.TWINSHOT_TEST_PG_URL),
  'TWINSHOT_TEST_PG_URL is not set; run `source scripts/test-postgres.sh` first (scripts/test.sh does)',
);
