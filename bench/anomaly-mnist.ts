/**
 * One-class MNIST (issue 25): each digit in turn is normal, the other nine
 * anomalous. For each digit the memory bank is filled from N real training
 * images of that digit (the zoo's MobileNetV2, frozen, PatchCore patches,
 * seeded coreset), then a fixed test set drawn from the real test split
 * (the same M of every digit for all ten runs) is scored. Prints AUROC and
 * average precision per digit, their means, the settings, the backend and
 * the wall time.
 *
 *   node dist/bench/anomaly-mnist.js [--size 64] [--layers a,b] [--fraction 0.02]
 *     [--train 300] [--test-per-digit 100] [--project 0 (none)] [--neighbours 1]
 *     [--backend wasm] [--digits 0,1,…] [--seed 42]
 */
import { parseArgs } from 'node:util';
import { buildMemoryBank, loadBank, scorePatches } from '../src/engine/anomaly/memory-bank.js';
import { buildPatchExtractor, patchesOfPixels } from '../src/engine/anomaly/patch-features.js';
import type { PixelBatch } from '../src/engine/data/dataset-types.js';
import { mnistFiles } from '../src/engine/data/datasets.js';
import { readIdxDataset } from '../src/engine/data/idx-dataset.js';
import { preprocessingFor } from '../src/engine/data/preprocess.js';
import { auroc, averagePrecision } from '../src/engine/evaluate/anomaly-metrics.js';
import { selectBackend } from '../src/engine/kernels/backend.js';
import { loadZooArtifacts } from '../src/engine/model/zoo.js';
import { SeededRandom } from '../src/engine/random.js';
import type { BackendName } from '../src/format/types.js';
import { NORMALIZE_PRESETS } from '../src/format/zoo-catalog.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    layers: { type: 'string', default: 'block_6_expand_relu,block_13_expand_relu' },
    fraction: { type: 'string', default: '0.02' },
    train: { type: 'string', default: '300' },
    'test-per-digit': { type: 'string', default: '100' },
    project: { type: 'string', default: '0' },
    'coreset-project': { type: 'string', default: '128' },
    neighbours: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
    digits: { type: 'string', default: '0,1,2,3,4,5,6,7,8,9' },
    seed: { type: 'string', default: '42' },
    'max-bank-mb': { type: 'string', default: '64' },
  },
});

const settings = {
  size: Number(values.size),
  layers: values.layers.split(','),
  fraction: Number(values.fraction),
  train: Number(values.train),
  testPerDigit: Number(values['test-per-digit']),
  // --project 0 keeps every channel.
  projectTo: Number(values.project) > 0 ? Number(values.project) : undefined,
  coresetProjectTo: Number(values['coreset-project']),
  neighbours: Number(values.neighbours),
  digits: values.digits.split(',').map(Number),
  seed: Number(values.seed),
  maxBankBytes: Number(values['max-bank-mb']) * 2 ** 20,
};

/** `count` indexes of `label`, drawn with the seed (the same draw for every setting). */
function pick(labels: Int32Array, label: number, count: number, seed: number): number[] {
  const all = [...labels.keys()].filter((i) => labels[i] === label);
  return new SeededRandom(seed).fork(`digit-${label}`).shuffle(all).slice(0, count);
}

async function main(): Promise<void> {
  const started = performance.now();
  const backend = await selectBackend(values.backend as BackendName);
  const data = await readIdxDataset(mnistFiles());
  const test = data.test!;
  const preprocessing = preprocessingFor(
    { mean: [0, 0, 0], std: [1, 1, 1], description: NORMALIZE_PRESETS.unit.description },
    { size: [settings.size, settings.size], channels: 3, fit: 'fill' },
  );
  const extractor = await buildPatchExtractor(
    loadZooArtifacts('mobilenet_v2'),
    {
      layers: settings.layers,
      neighbourhood: 3,
      seed: settings.seed,
      ...(settings.projectTo ? { projectTo: settings.projectTo } : {}),
    },
    preprocessing,
  );
  console.log(
    `backend ${backend.name}; mobilenet_v2 at ${settings.size}×${settings.size}, layers ${settings.layers.join(' + ')}: grid ${extractor.grid.join('×')}, ${extractor.depth} channels → patches of ${extractor.dim}`,
  );
  console.log(
    `${settings.train} normal training images per digit; test: ${settings.testPerDigit} of each digit from the test split; coreset ${settings.fraction} (greedy on ${settings.coresetProjectTo} dims), cap ${settings.maxBankBytes / 2 ** 20} MiB; neighbours ${settings.neighbours}; seed ${settings.seed}`,
  );

  const testIndexes = Array.from({ length: 10 }, (_, d) =>
    pick(test.labels, d, settings.testPerDigit, settings.seed + 1),
  ).flat();
  const testLabels = testIndexes.map((i) => test.labels[i]!);
  let t = performance.now();
  const testPatches = await patchesOfPixels(extractor, await test.pixels(testIndexes));
  console.log(`test patches: ${testIndexes.length} images in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const rows: { digit: number; auroc: number; ap: number; bank: number; seconds: number }[] = [];
  const spent = { features: 0, coreset: 0, scoring: 0 };
  const lap = (key: keyof typeof spent, since: number): number => {
    const now = performance.now();
    spent[key] += (now - since) / 1000;
    return now;
  };
  for (const digit of settings.digits) {
    t = performance.now();
    const normal: PixelBatch = await data.train.pixels(pick(data.train.labels, digit, settings.train, settings.seed));
    const patches = await patchesOfPixels(extractor, normal);
    let lapped = lap('features', t);
    const { bank, coreset } = buildMemoryBank(patches, extractor.dim, {
      fraction: settings.fraction,
      maxBytes: settings.maxBankBytes,
      seed: settings.seed,
      projectTo: settings.coresetProjectTo,
    });
    lapped = lap('coreset', lapped);
    const loaded = loadBank(bank);
    const scores = await scorePatches(loaded, testPatches, extractor.grid, { neighbours: settings.neighbours });
    loaded.dispose();
    lap('scoring', lapped);
    const labelled = { scores: scores.imageScores, anomalous: testLabels.map((label) => label !== digit) };
    const row = {
      digit,
      auroc: auroc(labelled)!,
      ap: averagePrecision(labelled)!,
      bank: coreset.kept,
      seconds: (performance.now() - t) / 1000,
    };
    rows.push(row);
    console.log(
      `digit ${digit}: AUROC ${row.auroc.toFixed(4)}  AP ${row.ap.toFixed(4)}  bank ${coreset.kept}/${coreset.fromPatches} patches${coreset.capped ? ' (capped)' : ''}  ${row.seconds.toFixed(1)} s`,
    );
  }
  extractor.dispose();
  const mean = (key: 'auroc' | 'ap') => rows.reduce((sum, row) => sum + row[key], 0) / rows.length;
  console.log(`mean AUROC ${mean('auroc').toFixed(4)}  mean AP ${mean('ap').toFixed(4)}  over ${rows.length} digits`);
  console.log(
    `time in all digits: training features ${spent.features.toFixed(1)} s, coreset ${spent.coreset.toFixed(1)} s, scoring ${spent.scoring.toFixed(1)} s`,
  );
  console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s on ${backend.name}`);
}

await main();
