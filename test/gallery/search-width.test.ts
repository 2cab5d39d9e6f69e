import { describe, expect, it } from 'vitest';
import {
  POSTGRES_SEARCH_WIDTH,
  SQLITE_SEARCH_WIDTH,
  checkSearchWidth,
  hnswSearchWidth,
} from '../../src/gallery/search-width.js';

describe('hnswSearchWidth', () => {
  it("keeps the store's floor and 4k up to 100,000 rows", () => {
    expect(hnswSearchWidth(5, 1_000, SQLITE_SEARCH_WIDTH)).toBe(96);
    expect(hnswSearchWidth(10, 50_000, SQLITE_SEARCH_WIDTH)).toBe(96);
    expect(hnswSearchWidth(20, 50_000, POSTGRES_SEARCH_WIDTH)).toBe(80);
    expect(hnswSearchWidth(5, 100_000, POSTGRES_SEARCH_WIDTH)).toBe(40);
    expect(hnswSearchWidth(100, 100_000, SQLITE_SEARCH_WIDTH)).toBe(400);
  });

  it('widens with the logarithm of the rows past 100,000, never below 4k', () => {
    expect(hnswSearchWidth(5, 1_000_000, SQLITE_SEARCH_WIDTH)).toBe(192);
    expect(hnswSearchWidth(5, 10_000_000, SQLITE_SEARCH_WIDTH)).toBe(288);
    expect(hnswSearchWidth(5, 1_000_000, POSTGRES_SEARCH_WIDTH)).toBe(80);
    expect(hnswSearchWidth(100, 1_000_000, SQLITE_SEARCH_WIDTH)).toBe(400);
    for (const rule of [SQLITE_SEARCH_WIDTH, POSTGRES_SEARCH_WIDTH]) {
      let last = 0;
      for (const rows of [1e5, 2e5, 5e5, 1e6, 3e6, 1e7]) {
        const width = hnswSearchWidth(5, rows, rule);
        expect(width).toBeGreaterThanOrEqual(last);
        last = width;
      }
    }
  });

  it('treats an unknown size (an estimate of -1, or NaN) as small', () => {
    expect(hnswSearchWidth(5, -1, POSTGRES_SEARCH_WIDTH)).toBe(40);
    expect(hnswSearchWidth(5, Number.NaN, SQLITE_SEARCH_WIDTH)).toBe(96);
  });

  it("takes a user's width in place of the rule, never below 4k, and checks it", () => {
    expect(hnswSearchWidth(5, 1_000_000, SQLITE_SEARCH_WIDTH, 50)).toBe(50);
    expect(hnswSearchWidth(5, 1_000, POSTGRES_SEARCH_WIDTH, 300)).toBe(300);
    expect(hnswSearchWidth(20, 1_000_000, SQLITE_SEARCH_WIDTH, 50)).toBe(80);
    expect(() => checkSearchWidth(undefined)).not.toThrow();
    expect(() => checkSearchWidth(1000)).not.toThrow();
    for (const bad of [0, 1001, 2.5, Number.NaN]) {
      expect(() => checkSearchWidth(bad)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' }));
    }
  });
});
