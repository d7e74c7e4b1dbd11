import assert from 'node:assert/strict';
import { loadPipelineText } from '../../../src/format/load-pipeline.js';
import type { PipelineSpec } from '../../../src/format/types.js';
import type { PlanInputs } from '../../../src/plan/types.js';

const HEAD = ['globalAveragePooling2d: {}', 'dense: { units: classes, activation: softmax }'];

/** A pipeline with `stages` and `head` (flow mappings, one a line) and optional top-level lines, loaded as tlpipe loads a file. */
export function spec(stages: string[], extra = '', head = HEAD): PipelineSpec {
  const text = `name: p
dataset:
  format: idx
  train: { images: a, labels: b }
  test: { images: c, labels: d }
head:
${head.map((l) => `  - ${l}`).join('\n')}
train:
  stages:
${stages.map((s) => `    - ${s}`).join('\n')}
${extra}`;
  const loaded = loadPipelineText('/p/p.yaml', text);
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  return loaded.value.spec;
}

/** The top of MobileNetV2 as the engine records it: a chain, each layer reading the one before. */
const CHAIN: [string, string, number, number[]][] = [
  ['Conv1', 'Conv2D', 864, [48, 48, 32]],
  ['bn_Conv1', 'BatchNormalization', 128, [48, 48, 32]],
  ['block_16_expand', 'Conv2D', 153600, [3, 3, 960]],
  ['block_16_expand_BN', 'BatchNormalization', 3840, [3, 3, 960]],
  ['block_16_project', 'Conv2D', 307200, [3, 3, 320]],
  ['Conv_1', 'Conv2D', 409600, [3, 3, 1280]],
  ['out_relu', 'ReLU', 0, [3, 3, 1280]],
];

export const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 4,
    counts: { train: 90, validation: 10, test: 40 },
    trainPerClass: [30, 30, 20, 10],
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [3, 3, 1280],
    layerCount: 7,
    paramCount: CHAIN.reduce((sum, [, , params]) => sum + params, 0),
    layers: CHAIN.map(([name, className, params, outputShape], i) => ({
      name,
      className,
      params,
      outputShape,
      outputElements: outputShape.reduce((a, b) => a * b, 1),
      inbound: [i === 0 ? 'input_1' : CHAIN[i - 1]![0]],
    })),
  },
};

/** The same base without its layer graph (as facts gathered from a model without one). */
export const WITHOUT_GRAPH: PlanInputs = {
  ...INPUTS,
  base: {
    ...INPUTS.base,
    layers: INPUTS.base.layers.map(({ name, className, params }) => ({ name, className, params })),
  },
};
