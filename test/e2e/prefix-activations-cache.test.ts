import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { seedCnnPipeline } from '../../bench/seed-cnn-pipeline.js';
import {
  IDX_TRAIN_DATASET,
  tinyPipeline,
  tlpipeBounded,
  workspace,
  write,
  writeMnistSubsetIdx,
} from './cli-harness.js';

/**
 * The stage cache's entries of one image's activations (the gallery's
 * Grad-CAM layer, the export probe's cut), by the shape they keep: one
 * image. A features entry keeps a whole split.
 */
function activationEntries(runs: string): string[] {
  const dir = path.join(runs, '.cache', 'features');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^[0-9a-f]{64}$/.test(name))
    .filter((name) => {
      const meta = JSON.parse(readFileSync(path.join(dir, name, 'meta.json'), 'utf8')) as { shape: number[] };
      return meta.shape[0] === 1 && meta.shape.length === 4;
    })
    .sort();
}

/** writeMnistSubsetIdx's files with their test split, so the report's gallery draws Grad-CAM maps. */
const WITH_TEST = IDX_TRAIN_DATASET.replace(
  ' }, image:',
  ' }, test: { images: test-images-idx3-ubyte.gz, labels: test-labels-idx1-ubyte.gz }, image:',
);

async function run(dir: string, file: string): Promise<void> {
  const r = await tlpipeBounded(['run', file], dir, { timeoutMs: 180_000 });
  assert.equal(r.timedOut, false);
  assert.equal(r.code, 0, r.stderr);
}

describe('end to end: the activations of the layers below the explained one are kept only when no stage trains them', () => {
  it('a seed CNN (base: none, its convolutions in the head) keeps none of them', async () => {
    const dir = workspace('activations-seed-cnn');
    writeMnistSubsetIdx(dir, 4, 3);
    write(dir, 'p.yaml', seedCnnPipeline({ name: 'cnn', seed: 1, dataset: WITH_TEST, epochs: 1 }));
    await run(dir, 'p.yaml');
    assert.ok(existsSync(path.join(dir, 'runs', 'cnn')), 'the run completed');
    assert.deepEqual(activationEntries(path.join(dir, 'runs')), []);
  });

  it('a frozen base keeps them, and a head-only change reads them back (no new entry)', async () => {
    const dir = workspace('activations-frozen');
    writeMnistSubsetIdx(dir, 4, 3);
    const pipeline = tinyPipeline('frozen', WITH_TEST);
    write(dir, 'p.yaml', pipeline);
    await run(dir, 'p.yaml');
    const kept = activationEntries(path.join(dir, 'runs'));
    assert.ok(kept.length > 0, 'the first run kept the activations of its images');
    write(
      dir,
      'q.yaml',
      pipeline.replace('- { epochs: 1 }', '- { epochs: 1, optimizer: { name: adam, learningRate: 0.002 } }'),
    );
    await run(dir, 'q.yaml');
    assert.deepEqual(activationEntries(path.join(dir, 'runs')), kept);
  });
});
