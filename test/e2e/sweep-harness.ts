import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A small MNIST grid: two cuts (two sets of base features) × two learning rates. */
export const SWEEP_PIPELINE = (extra = '', epochs = 2): string => `name: grid
seed: 7
dataset:
  format: mnist
  limit: { perClass: 10, testPerClass: 4 }
  validation: 0.2
  image: { size: [32, 32] }
base:
  model: mobilenet_v2
  cut: block_13_expand_relu
head:
  - globalAveragePooling2d: {}
  - dense: { units: 32, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 16
  stages:
    - name: head
      epochs: ${epochs}
      optimizer: { name: adam, learningRate: 0.001 }
sweep:
  parameters:
    base.cut: { values: [block_13_expand_relu, block_6_expand_relu] }
    train.stages[0].optimizer.learningRate: { values: [0.001, 0.01] }
${extra}`;

export const sweepDir = (runs: string, pipeline = 'grid'): string => {
  const parent = path.join(runs, pipeline, 'sweeps');
  return path.join(parent, readdirSync(parent).filter((n) => /^\d{4}-/.test(n)).sort().at(-1)!);
};
/** Feature extractions the runs of a runs folder did (not taken from the stage cache), from their logs. */
export const extractions = (runs: string, pipeline = 'grid'): number =>
  readdirSync(path.join(runs, pipeline)).filter((n) => /^\d{4}-/.test(n))
    .map((n) => readFileSync(path.join(runs, pipeline, n, 'log.txt'), 'utf8').split('\n').filter((l) => / features \w+: \d+ examples in /.test(l)).length)
    .reduce((a, b) => a + b, 0);
export const resultsOf = (runs: string): string => readFileSync(path.join(sweepDir(runs), 'results.csv'), 'utf8');

