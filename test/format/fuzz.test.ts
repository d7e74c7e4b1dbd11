import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCase, fuzzCases, MUTATIONS, regressionCases } from './pipeline-fuzz.js';

/** CPU milliseconds per case, after a warm-up case: generous for CI's slower machines, far below what a blow-up takes. */
const MAX_MS = 3000;
const CASES = Number(process.env['TLPIPE_FUZZ_CASES'] ?? 400);

describe('fuzzed pipeline files: valid, or a clean located error — never a crash', () => {
  it(`${CASES} seeded cases (seed 20261128) covering every mutation`, () => {
    const cases = fuzzCases(20261128, CASES);
    assert.ok(cases.length >= Object.keys(MUTATIONS).length);
    const failures: string[] = [];
    const kinds = { valid: 0, rejected: 0 };
    // The first valid case compiles the schema validators and warms the JIT: seconds of CPU once, not a blow-up.
    for (const c of cases.slice(0, 8)) checkCase(c.text);
    const heapBefore = process.memoryUsage().heapUsed;
    for (const c of cases) {
      const verdict = checkCase(c.text);
      if (!verdict.ok) failures.push(`${c.name}: ${verdict.problem}`);
      else {
        kinds[verdict.kind]++;
        if (verdict.ms > MAX_MS) failures.push(`${c.name}: took ${verdict.ms.toFixed(0)} ms`);
      }
    }
    assert.deepEqual(failures, []);
    // Both outcomes occur, so the fuzzer neither only breaks files nor only leaves them valid.
    assert.ok(kinds.valid > 0 && kinds.rejected > kinds.valid, JSON.stringify(kinds));
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 512 * 2 ** 20, 'memory stays bounded');
  });

  for (const c of regressionCases()) {
    it(c.name, () => {
      const verdict = checkCase(c.text);
      assert.ok(verdict.ok, verdict.ok ? '' : verdict.problem);
    });
  }
});
