import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { InferencePool, WorkerFailed } from '../../src/serve/inference-pool.js';
import type { ServedAnswer, ServedInput } from '../../src/serve/served-answers.js';

/** Real worker threads running a script that dies or refuses to start when told (test/fixtures/serve/scripted-worker.ts). */
const SCRIPT = new URL('../fixtures/serve/scripted-worker.js', import.meta.url);
const dir = mkdtempSync(path.join(tmpdir(), 'tlpipe-inference-pool-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const rows = (...names: string[]): ServedInput[] => names.map((name) => ({ kind: 'row', name, values: [0] }));
const labels = (answers: ServedAnswer[]): string[] => answers.map((a) => ('label' in a ? a.label : a.error));
const BOUND_MS = 60_000;

/** A pool of `count` scripted workers; `refuse()` makes every worker started from then on fail to start. */
async function pool(name: string, count: number) {
  const refuseStartFile = path.join(dir, `${name}.refuse`);
  const started = await InferencePool.start(SCRIPT, count, { refuseStartFile }, BOUND_MS);
  return { pool: started, refuse: () => writeFileSync(refuseStartFile, '') };
}

/** Waits until `check` holds, failing after the bound. */
async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + BOUND_MS;
  while (!check()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('InferencePool on real worker threads', () => {
  it('answers batches from its workers, and says what the model is', async () => {
    const { pool: p } = await pool('answers', 2);
    try {
      assert.equal(p.alive, 2);
      assert.deepEqual(p.facts.labels, ['a']);
      const answers = await Promise.all([p.run(rows('x', 'y')), p.run(rows('z')), p.run(rows('w'))]);
      assert.deepEqual(answers.map(labels), [['x', 'y'], ['z'], ['w']]);
    } finally {
      await p.close();
    }
  });

  it('a worker that dies mid-batch fails that batch, and a new worker answers the next', async () => {
    const { pool: p } = await pool('dies', 1);
    try {
      await assert.rejects(
        p.run(rows('a', 'exit')),
        (error: Error) => error instanceof WorkerFailed && /stopped/.test(error.message),
      );
      await until(() => p.alive === 1, 'the replacement worker');
      assert.deepEqual(labels(await p.run(rows('b'))), ['b']);
    } finally {
      await p.close();
    }
  });

  it('with no worker running and none able to start, a batch fails at once instead of waiting for ever, and close() returns', async () => {
    const { pool: p, refuse } = await pool('none-left', 1);
    try {
      refuse();
      await assert.rejects(p.run(rows('exit')), WorkerFailed);
      await until(() => p.alive === 0, 'the dead worker to be counted out');
      await assert.rejects(p.run(rows('c')), /no worker is running the model/);
      await p.close();
      await assert.rejects(p.run(rows('d')), /closing/);
    } finally {
      // Its threads stopped even when an assertion failed (closing twice is closing once).
      await p.close();
    }
  });

  it('close() fails the batches waiting for a worker rather than leaving them pending', async () => {
    const { pool: p } = await pool('close-waiting', 1);
    const first = p.run(rows('slow'));
    const waiting = assert.rejects(p.run(rows('waits')), /closing/);
    await p.close();
    // The first batch may have been answered before the close reached its worker; the one waiting for a worker never is.
    await first.catch(() => undefined);
    await waiting;
  });
});
