import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  epochRows,
  hasStackTrace,
  IDX_TRAIN_DATASET,
  tinyPipeline,
  tlpipeBounded,
  unwrapped,
  workspace,
  write,
  writeMnistSubsetIdx,
} from './cli-harness.js';

// Moved from test/store/stage-cache-files.test.ts: it trains three runs through the CLI, so it belongs with the end-to-end tests, not in `npm run test:unit`.
describe('end to end: a damaged cache entry is rebuilt by the next run, and the run after uses the rebuilt one', () => {
  it('an invented metric in a stage entry and a features entry linked to /dev/zero: two more runs, both complete with the true metrics', async () => {
    const dir = workspace('cache-damage');
    writeMnistSubsetIdx(dir, 4, 3);
    write(dir, 'p.yaml', tinyPipeline('cached', IDX_TRAIN_DATASET));
    const runs = path.join(dir, 'runs', 'cached');
    const run = async (): Promise<{ stderr: string; rows: Record<string, unknown>[] }> => {
      const before = new Set(existsSync(runs) ? readdirSync(runs) : []);
      const r = await tlpipeBounded(['run', 'p.yaml'], dir, { timeoutMs: 180_000 });
      assert.equal(r.timedOut, false);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(hasStackTrace(r.stderr), false);
      const made = readdirSync(runs).find((n) => /^\d{4}-/.test(n) && !before.has(n))!;
      return { stderr: r.stderr, rows: epochRows(path.join(runs, made), ['seconds', 'tensors']) };
    };
    const first = await run();
    const cache = path.join(dir, 'runs', '.cache');
    const [stage] = readdirSync(path.join(cache, 'stages')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    const [features] = readdirSync(path.join(cache, 'features')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    assert.ok(stage && features, 'the first run kept its stage and features');
    // Same length, so only the digest can tell: an accuracy no run reached.
    const meta = path.join(cache, 'stages', stage, 'meta.json');
    const text = readFileSync(meta, 'utf8');
    writeFileSync(
      meta,
      text.replace(/"accuracy":0\.(\d)/, (_m, digit: string) => `"accuracy":0.${digit === '9' ? '8' : '9'}`),
    );
    assert.notEqual(readFileSync(meta, 'utf8'), text, 'the metric was edited');
    rmSync(path.join(cache, 'features', features, 'data.bin'));
    symlinkSync('/dev/zero', path.join(cache, 'features', features, 'data.bin'));

    const second = await run();
    assert.match(
      unwrapped(second.stderr),
      new RegExp(`the stage cache entry .*stages/${stage} is damaged \\(.*meta\\.json does not match the sha256`),
    );
    assert.match(
      unwrapped(second.stderr),
      new RegExp(
        `the stage cache entry .*features/${features} is damaged \\(.*data\\.bin is a link that leads outside`,
      ),
    );
    assert.deepEqual(second.rows, first.rows, 'trained again, not the invented metric');
    assert.equal(
      second.rows.some((r) => r['reused']),
      false,
    );

    const third = await run();
    assert.doesNotMatch(third.stderr, /stage cache entry .* is damaged/);
    assert.deepEqual(
      third.rows.map(({ reused: _r, ...row }) => row),
      first.rows,
      'the rebuilt entry is the true one',
    );
    assert.equal(
      third.rows.every((r) => r['reused'] === true),
      true,
      'and it is used',
    );
  });
});
