import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tlpipe, workspace, write } from './cli-harness.js';
import { SWEEP_PIPELINE } from './sweep-harness.js';

/** Piped and --json output during long phases: counts with rate and ETA, never a silent minute, never a flood. */
describe('progress in pipes and JSON', () => {
  const dir = workspace('progress');
  const file = write(
    dir,
    'p.yaml',
    SWEEP_PIPELINE('', 2)
      .replace(/sweep:\n[\s\S]*$/, '')
      .replace('batchSize: 16', 'batchSize: 4'),
  );

  it('piped: long phases print their count, rate and ETA (every TLPIPE_PROGRESS_S; 10 s by default)', async () => {
    const r = await tlpipe(['run', file, '--runs', path.join(dir, 'plain'), '--no-cache'], dir, {
      TLPIPE_PROGRESS_S: '0',
      TLPIPE_WORKERS: '1',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^features train: [\d,]+\/80 examples, [\d.]+\/s, ETA \d+s$/m);
    assert.match(r.stderr, /^head epoch 2: \d+\/20 batches, [\d.]+\/s, ETA \d+s$/m);
    // The epoch's own line still follows its progress lines.
    assert.match(r.stderr, /head epoch 2: 19\/20 batches[^\n]*\n[\s\S]*^head epoch 2 +loss/m);
    const quiet = await tlpipe(['run', file, '--runs', path.join(dir, 'plain'), '--no-cache'], dir, {
      TLPIPE_WORKERS: '1',
    });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /batches, /, 'a run shorter than 10 s prints no progress lines');
  });

  it('--json: batch progress at a bounded rate, each with its rate, the last batch of every epoch always there', async () => {
    const r = await tlpipe(['run', file, '--runs', path.join(dir, 'json'), '--no-cache', '--json'], dir, {
      TLPIPE_WORKERS: '1',
    });
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const batches = events.filter((e) => e.type === 'batch-end');
    assert.ok(
      batches.length >= 2 && batches.length < 40,
      `${batches.length} batch-end lines for 2 epochs of 20 batches`,
    );
    for (const epoch of [1, 2])
      assert.ok(
        batches.some((b) => b.epoch === epoch && b.batch === 20),
        `the last batch of epoch ${epoch}`,
      );
    assert.ok(batches.every((b) => typeof b.perSecond === 'number'));
  });
});
