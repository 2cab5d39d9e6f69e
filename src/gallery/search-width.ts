// How many nearest examples an HNSW search starts with, in both stores. A graph searched at a
// fixed width finds fewer of the true neighbours as it grows, so past 100,000 rows the width grows
// with the logarithm of the gallery's size. Measured at 1,000,000 rows on the service bench's
// clustered 256-d data (M 16; docs/benchmarks.md), recall@10 of labels: usearch (bfloat16,
// ef_construction 40, re-scored in float32) 0.977 at width 128, 0.989 at 160, 0.993 at 192;
// pgvector (ef_construction 64) 0.926 at 40, 0.964 at 64, 0.983 at 96, where each candidate costs
// about four times as much.

import { TwinshotError } from '../errors.js';

/** Rows up to which a store's own minimum width is enough (recall@10 0.988 and 0.986 there). */
const GROWTH_FROM_ROWS = 100_000;

export interface SearchWidthRule {
  /** The least width at any size (with 4k: examples share labels). */
  floor: number;
  /** The width at 100,000 rows, where growth starts. */
  start: number;
  /** Candidates added per tenfold rows past 100,000. */
  perTenfold: number;
}

/**
 * usearch in the SQLite store: 96 candidates up to 100,000 rows, 192 at 1,000,000, 288 at
 * 10,000,000. The graph's ef_construction of 40 makes it build fast but search less well at a
 * small width: at 100,000 rows recall@10 is 0.973 at 64 candidates and 0.988 at 96 (0.986 and
 * 0.993 with ef_construction 64), for 0.15 ms more.
 */
export const SQLITE_SEARCH_WIDTH: SearchWidthRule = { floor: 96, start: 96, perTenfold: 96 };
/** pgvector's hnsw.ef_search: 80 at 1,000,000 rows, 120 at 10,000,000. */
export const POSTGRES_SEARCH_WIDTH: SearchWidthRule = { floor: 40, start: 40, perTenfold: 40 };

/** The most candidates a user may ask a search to start with: pgvector caps hnsw.ef_search here. */
export const MAX_SEARCH_WIDTH = 1_000;

/**
 * The first candidate count of a search for `k` labels in an index of about `rows` examples (an
 * unknown size, NaN or negative, counts as small). The stores widen further while labels repeat.
 * @param chosen the user's width (a store's `searchWidth` option), which replaces the rule
 */
export function hnswSearchWidth(k: number, rows: number, rule: SearchWidthRule, chosen?: number): number {
  if (chosen !== undefined) return Math.max(4 * k, chosen);
  const base = Math.max(4 * k, rule.floor);
  if (!(rows > GROWTH_FROM_ROWS)) return base;
  return Math.max(base, Math.round(rule.start + rule.perTenfold * Math.log10(rows / GROWTH_FROM_ROWS)));
}

/**
 * Checks a store's `searchWidth` option (or, named `search_width`, a store URL's).
 * @param given what the user wrote, for the message (default `width`)
 * @throws TwinshotError ERR_CONFIG unless it is a whole number from 1 to {@link MAX_SEARCH_WIDTH}
 */
export function checkSearchWidth(width: number | undefined, name = 'searchWidth', given: unknown = width): void {
  if (width === undefined || (Number.isInteger(width) && width >= 1 && width <= MAX_SEARCH_WIDTH)) return;
  throw new TwinshotError(
    'ERR_CONFIG',
    `${name} must be a whole number from 1 to ${MAX_SEARCH_WIDTH} (candidates an HNSW search starts with); got ${given}`,
  );
}
