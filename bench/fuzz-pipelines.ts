/**
 * The long run of the pipeline fuzzer (`npm run fuzz -- [cases] [seed]`;
 * `npm test` runs 400 cases at a fixed seed). Prints counts and every case
 * that did not end cleanly, with its text saved under test/fixtures/fuzz/
 * as a regression fixture.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/package/package-root.js';
import { checkCase, fuzzCases } from '../test/format/pipeline-fuzz.js';

const count = Number(process.argv[2] ?? 10_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const started = performance.now();
const counts = { valid: 0, rejected: 0, failed: 0 };
let slowest = { ms: 0, name: '' };
for (const c of fuzzCases(seed, count)) {
  const verdict = checkCase(c.text);
  if (verdict.ms > slowest.ms) slowest = { ms: verdict.ms, name: c.name };
  if (verdict.ok) {
    counts[verdict.kind]++;
    continue;
  }
  counts.failed++;
  const file = path.join(
    packageRoot(),
    'test',
    'fixtures',
    'fuzz',
    `seed-${seed}-${c.name.split(' ')[0]!.slice(1)}.yaml`,
  );
  writeFileSync(file, c.text, 'latin1');
  console.log(`FAILED ${c.name}: ${verdict.problem.split('\n')[0]}\n  saved ${path.relative(process.cwd(), file)}`);
}
console.log(
  JSON.stringify({
    seed,
    cases: count,
    ...counts,
    seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    slowestMs: Number(slowest.ms.toFixed(0)),
    slowestCase: slowest.name,
  }),
);
process.exitCode = counts.failed > 0 ? 1 : 0;
