import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../src/diagnostics/user-error.js';
import { buildMemoryBank, loadBank, scorePatches } from '../../../src/engine/anomaly/memory-bank.js';
import { buildPatchExtractor, patchesOfPixels } from '../../../src/engine/anomaly/patch-features.js';
import { thresholdFromNormalScores } from '../../../src/engine/anomaly/threshold.js';
import { mnistFiles } from '../../../src/engine/data/datasets.js';
import { readIdxDataset } from '../../../src/engine/data/idx-dataset.js';
import { preprocessingFor } from '../../../src/engine/data/preprocess.js';
import { auroc } from '../../../src/engine/evaluate/anomaly-metrics.js';
import { loadZooArtifacts } from '../../../src/engine/model/zoo.js';

/** The zoo's MobileNetV2 fed pixels / 255, as the run feeds it; small images keep the cpu backend quick. */
const preprocessing = preprocessingFor(
  { mean: [0, 0, 0], std: [1, 1, 1], description: '[0, 1]' },
  { size: [32, 32], channels: 3, fit: 'fill' },
);
const LAYERS = ['block_3_expand_relu', 'block_6_expand_relu'];

/** The first `count` indexes whose label passes `keep`. */
const first = (labels: Int32Array, keep: (label: number) => boolean, count: number, skip = 0): number[] =>
  [...labels.keys()].filter((i) => keep(labels[i]!)).slice(skip, skip + count);

describe('patch features of the zoo MobileNetV2', () => {
  it('a grid of the finest layer, its channels concatenated, projected when asked', async () => {
    const extractor = await buildPatchExtractor(
      loadZooArtifacts('mobilenet_v2'),
      { layers: LAYERS, neighbourhood: 3, seed: 1, projectTo: 50 },
      preprocessing,
    );
    try {
      // At 32×32, block_3_expand_relu is 8×8×144 and block_6_expand_relu 4×4×192.
      assert.deepEqual(extractor.grid, [8, 8]);
      assert.equal(extractor.depth, 144 + 192);
      assert.equal(extractor.dim, 50);
    } finally {
      extractor.dispose();
    }
  });

  it('a layer the base lacks is a user error naming the nearest', async () => {
    await assert.rejects(
      buildPatchExtractor(
        loadZooArtifacts('mobilenet_v2'),
        { layers: ['block_3_expand_rel'], neighbourhood: 3, seed: 1 },
        preprocessing,
      ),
      (error: unknown) => error instanceof UserError && /block_3_expand_relu/.test(error.hint ?? ''),
    );
  });
});

describe('one-class MNIST at a tiny size (20 normal ones)', () => {
  it('scores other digits above held-out ones, by a clear margin over chance', async () => {
    const data = await readIdxDataset(mnistFiles());
    const test = data.test!;
    const extractor = await buildPatchExtractor(
      loadZooArtifacts('mobilenet_v2'),
      { layers: LAYERS, neighbourhood: 3, seed: 42 },
      preprocessing,
    );
    const normal = await patchesOfPixels(
      extractor,
      await data.train.pixels(first(data.train.labels, (l) => l === 1, 20)),
    );
    const { bank } = buildMemoryBank(normal, extractor.dim, {
      fraction: 0.25,
      maxBytes: 2 ** 24,
      seed: 42,
      projectTo: 64,
    });
    const validation = first(data.train.labels, (l) => l === 1, 5, 20);
    const testIndexes = [...first(test.labels, (l) => l === 1, 10), ...first(test.labels, (l) => l !== 1, 10)];
    const loaded = loadBank(bank);
    try {
      const scoreOf = async (pixels: Awaited<ReturnType<typeof test.pixels>>) =>
        (await scorePatches(loaded, await patchesOfPixels(extractor, pixels), extractor.grid)).imageScores;
      const threshold = thresholdFromNormalScores(await scoreOf(await data.train.pixels(validation)), 1);
      const scores = await scoreOf(await test.pixels(testIndexes));
      const area = auroc({ scores, anomalous: testIndexes.map((i) => test.labels[i] !== 1) })!;
      assert.ok(area >= 0.8, `AUROC ${area}`);
      assert.ok(threshold.value > 0 && Number.isFinite(threshold.value));
    } finally {
      loaded.dispose();
      extractor.dispose();
    }
  });
});
