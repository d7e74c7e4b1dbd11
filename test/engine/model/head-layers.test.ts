import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildBase, buildHeadLayers, buildHeadModel, composeModel } from '../../../src/engine/model/build-models.js';
import { loadZooArtifacts } from '../../../src/engine/model/zoo.js';
import type { HeadLayerType } from '../../../src/format/head-layers/registry.js';
import { HEAD_LAYERS } from '../../../src/format/head-layers/registry.js';
import { headShapes } from '../../../src/format/head-shape.js';
import { headParamCount, resolveHead } from '../../../src/plan/compile-steps/head.js';
import { layerFacts } from '../../../src/engine/facts/gather-facts.js';
import { resolvePipeline } from '../../../src/format/load-pipeline.js';
import type { PipelineFile } from '../../../src/format/types.js';
import { parse } from 'yaml';
import { INPUTS } from '../../plan/compile-steps/facts.js';
import type { ResolvedHeadLayer } from '../../../src/plan/types.js';

before(async () => {
  await tf.setBackend('cpu');
});

const MAP = [
  [6, 6, 4],
  [5, 7, 3],
  [8, 8, 1],
];
const VECTOR = [[12], [5]];

/** For every registry entry (the Record makes a missing one a compile error): layers to build and the inputs they take. */
const CASES: Record<HeadLayerType, { layers: ResolvedHeadLayer[]; inputs: number[][] }> = {
  globalAveragePooling2d: { layers: [{ type: 'globalAveragePooling2d' }], inputs: MAP },
  globalMaxPooling2d: { layers: [{ type: 'globalMaxPooling2d' }], inputs: MAP },
  flatten: { layers: [{ type: 'flatten' }], inputs: MAP },
  dense: {
    layers: [
      { type: 'dense', units: 3, activation: 'relu', useBias: true },
      { type: 'dense', units: 7, activation: 'linear', useBias: false, kernelRegularizer: { l1: 0, l2: 0.01 } },
    ],
    inputs: VECTOR,
  },
  dropout: { layers: [{ type: 'dropout', rate: 0.3 }], inputs: [...MAP, ...VECTOR] },
  conv2d: {
    layers: [
      { type: 'conv2d', filters: 5, kernelSize: [3, 3], strides: 1, padding: 'valid', activation: 'relu' },
      { type: 'conv2d', filters: 2, kernelSize: [1, 3], strides: 2, padding: 'same', activation: 'linear' },
      { type: 'conv2d', filters: 4, kernelSize: [2, 2], strides: 2, padding: 'valid', activation: 'linear' },
    ],
    inputs: MAP,
  },
  maxPooling2d: {
    layers: [
      { type: 'maxPooling2d', poolSize: 2, strides: 2, padding: 'valid' },
      { type: 'maxPooling2d', poolSize: 3, strides: 2, padding: 'same' },
    ],
    inputs: MAP,
  },
  batchNormalization: { layers: [{ type: 'batchNormalization' }], inputs: [...MAP, ...VECTOR] },
  layerNormalization: { layers: [{ type: 'layerNormalization', epsilon: 0.001 }], inputs: [...MAP, ...VECTOR] },
  activation: { layers: [{ type: 'activation', activation: 'relu6' }], inputs: [...MAP, ...VECTOR] },
  reshape: { layers: [{ type: 'reshape', targetShape: [2, 2, 3] }], inputs: [[12], [3, 4]] },
  conv2dTranspose: {
    layers: [
      {
        type: 'conv2dTranspose',
        filters: 3,
        kernelSize: [3, 3],
        strides: 2,
        padding: 'same',
        activation: 'linear',
        useBias: true,
      },
      {
        type: 'conv2dTranspose',
        filters: 2,
        kernelSize: [3, 3],
        strides: 2,
        padding: 'valid',
        activation: 'relu',
        useBias: false,
      },
      {
        type: 'conv2dTranspose',
        filters: 4,
        kernelSize: [2, 3],
        strides: 1,
        padding: 'valid',
        activation: 'linear',
        useBias: true,
      },
    ],
    inputs: MAP,
  },
  upSampling2d: {
    layers: [
      { type: 'upSampling2d', size: [2, 2], interpolation: 'nearest' },
      { type: 'upSampling2d', size: [3, 2], interpolation: 'bilinear' },
    ],
    inputs: MAP,
  },
  upsample: {
    layers: [
      { type: 'upsample', filters: 8, size: 3, applyDropout: false },
      { type: 'upsample', filters: 2, size: 4, applyDropout: true },
    ],
    inputs: MAP,
  },
  concatenate: { layers: [{ type: 'concatenate', with: 'skip' }], inputs: MAP },
};

/** A "base" whose output is its input, with a layer named `skip` of the same shape for skip connections. */
function identityBase(shape: number[]): tf.LayersModel {
  const input = tf.input({ shape });
  const skip = tf.layers.activation({ activation: 'linear', name: 'skip' }).apply(input) as tf.SymbolicTensor;
  const cut = tf.layers.activation({ activation: 'linear', name: 'cut' }).apply(skip) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: cut });
}

describe('every head layer entry agrees with tfjs', () => {
  for (const [type, { layers, inputs }] of Object.entries(CASES)) {
    for (const layer of layers) {
      for (const shape of inputs) {
        it(`${type} ${JSON.stringify(layer)} on ${JSON.stringify(shape)}`, () => {
          const base = identityBase(shape);
          const built = buildHeadLayers([layer], 1);
          const model = composeModel(base, built, 'case');
          const trainable = built
            .flatMap((l) => l.trainableWeights)
            .reduce((sum, w) => sum + w.shape.reduce<number>((a, b) => a * (b ?? 0), 1), 0);
          const baseFacts = {
            base: { layers: [{ name: 'skip', className: 'Activation', params: 0, outputShape: shape }] },
          };
          assert.equal(headParamCount([layer], shape, baseFacts as never), trainable);
          const { shapes, problem } = headShapes([layer], shape, new Map([['skip', shape]]));
          assert.equal(problem, undefined);
          assert.deepEqual(shapes[1], model.outputs[0]!.shape.slice(1));
          model.dispose();
        });
      }
    }
  }
  it('covers every registry entry', () => {
    assert.deepEqual(Object.keys(CASES).sort(), Object.keys(HEAD_LAYERS).sort());
  });
});

describe('head: unet on the zoo mobilenet_v2', () => {
  it('plans without a problem against the real base, and composes to [128, 128, classes] with its skips wired in', async () => {
    const { spec } = resolvePipeline(
      '/p/p.yaml',
      parse(`dataset: { format: idx, train: { images: a, labels: b }, image: { size: [128, 128] } }
base: { model: mobilenet_v2 }
head: unet
train: { stages: [{ epochs: 1 }] }
`) as PipelineFile,
    );
    const base = await buildBase(loadZooArtifacts('mobilenet_v2'), spec.base.cut, [128, 128, 3]);
    const classes = 3;
    const facts = {
      dataset: { ...INPUTS.dataset, numClasses: classes },
      base: {
        ...INPUTS.base,
        cutOutputShape: base.outputs[0]!.shape.slice(1) as number[],
        layers: base.layers.map(layerFacts),
      },
    };
    const { head, diagnostics } = resolveHead(spec, facts);
    assert.deepEqual(diagnostics, []);
    const layers = buildHeadLayers(head, 1);
    const model = composeModel(base, layers, 'unet');
    assert.deepEqual(model.outputs[0]!.shape, [null, 128, 128, classes]);
    assert.deepEqual(headShapes(head, facts.base.cutOutputShape).shapes.at(-1), [128, 128, classes]);
    assert.equal(model.layers.filter((l) => l.getClassName() === 'Concatenate').length, 4);
    const trainable = layers
      .flatMap((l) => l.trainableWeights)
      .reduce((sum, w) => sum + w.shape.reduce<number>((a, b) => a * (b ?? 0), 1), 0);
    assert.equal(headParamCount(head, facts.base.cutOutputShape, facts), trainable);
    const out = tf.tidy(() => (model.predict(tf.zeros([1, 128, 128, 3])) as tf.Tensor).shape);
    assert.deepEqual(out, [1, 128, 128, classes]);
  });
});

describe('a head with a skip connection', () => {
  it("on its own takes the skipped layer's output as a second input and shares its weights with the composed model", () => {
    const base = identityBase([4, 4, 3]);
    const layers = buildHeadLayers(
      [
        { type: 'concatenate', with: 'skip' },
        { type: 'conv2d', filters: 2, kernelSize: [1, 1], strides: 1, padding: 'valid', activation: 'linear' },
      ],
      5,
    );
    const full = composeModel(base, layers, 'full');
    const head = buildHeadModel(layers, [4, 4, 3], base);
    assert.deepEqual(
      head.inputs.map((i) => i.shape),
      [
        [null, 4, 4, 3],
        [null, 4, 4, 3],
      ],
    );
    const x = tf.randomUniform([2, 4, 4, 3], 0, 1, 'float32', 7);
    const viaHead = head.predict([x, x]) as tf.Tensor;
    const viaFull = full.predict(x) as tf.Tensor;
    assert.deepEqual(viaHead.arraySync(), viaFull.arraySync());
    assert.equal(head.countParams(), 6 * 2 + 2);
    tf.dispose([x, viaHead, viaFull]);
  });
});
