/** Shared pieces of the property tests over parsers of hostile input. */
import assert from "node:assert/strict";
import fc from "fast-check";

/** Fixed seed: a failure reproduces on every machine; numRuns keeps each property under a second. */
export const RUNS = { numRuns: 400, seed: 20261125 };

/**
 * Per-input bound, generous because the suite shares two cores: these parsers
 * are linear and take well under a millisecond, while a blow-up (catastrophic
 * backtracking, an alias bomb) takes seconds.
 */
export const MAX_MS = 1000;

/** Text that looks like what a parser expects (its `lines`), with `junk` tokens spliced in. */
export function nearly(lines: string[], junk: string[]): fc.Arbitrary<string> {
  const noise = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...junk));
  return fc
    .tuple(fc.array(fc.oneof(fc.constantFrom(...lines), noise), { maxLength: 30 }), fc.constantFrom("\n", "", " "))
    .map(([parts, separator]) => parts.join(separator));
}

/** Runs `fn`, failing the property when one input takes longer than MAX_MS. */
export function timed<T>(fn: () => T): T {
  const started = performance.now();
  const value = fn();
  const took = performance.now() - started;
  assert.ok(took < MAX_MS, `took ${took.toFixed(0)} ms`);
  return value;
}
