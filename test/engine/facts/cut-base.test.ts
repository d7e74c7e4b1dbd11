import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { cutBase } from '../../../src/engine/facts/cut-base.js';
import { preprocessingFor } from '../../../src/engine/data/preprocess.js';
import { inputShape, type KerasTopology } from '../../../src/engine/model/model-topology.js';
import type { ModelArtifacts } from '../../../src/engine/model/zoo.js';
import { loadPipelineText } from '../../../src/format/load-pipeline.js';

/** A small base trained at 16×16: three 5×5 valid convolutions (16 → 12 → 8 → 4), then a classifier that only fits 16×16. */
async function smallBase(sequential: boolean): Promise<ModelArtifacts> {
  const layers = [
    // A Sequential model declares its input on its first layer; a functional one on its input layer only.
    tf.layers.conv2d({ name: 'conv_a', filters: 2, kernelSize: 5, ...(sequential ? { inputShape: [16, 16, 3] } : {}) }),
    tf.layers.conv2d({ name: 'conv_b', filters: 2, kernelSize: 5 }),
    tf.layers.conv2d({ name: 'conv_c', filters: 2, kernelSize: 5 }),
    tf.layers.flatten({ name: 'flat' }),
    tf.layers.dense({ name: 'top', units: 2 }),
  ];
  let model: tf.LayersModel;
  if (sequential) model = tf.sequential({ layers });
  else {
    const input = tf.input({ shape: [16, 16, 3], name: 'image' });
    let x = input;
    for (const layer of layers) x = layer.apply(x) as tf.SymbolicTensor;
    model = tf.model({ inputs: input, outputs: x });
  }
  let artifacts: ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = {
        modelTopology: a.modelTopology as KerasTopology,
        weightSpecs: a.weightSpecs!,
        weightData: a.weightData as ArrayBuffer,
        digest: 'test',
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return artifacts!;
}

function specFor(cut: string, size: number) {
  const loaded = loadPipelineText(
    '/p/p.yaml',
    `dataset: { format: mnist, image: { size: [${size}, ${size}] } }
base: { model: ./base/model.json, cut: ${cut} }
head:
  - flatten: {}
  - dense: { units: classes, activation: softmax }
train: { stages: [{ epochs: 1 }] }
`,
  );
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
  return loaded.value.spec;
}

describe('cutBase: the one place a cut is checked, its problems returned as diagnostics', () => {
  const cases: {
    name: string;
    cut: string;
    size: number;
    sequential?: boolean;
    outputShape?: number[];
    path?: string[];
    message?: RegExp;
    hint?: RegExp;
  }[] = [
    { name: 'a layer the base has, at a size it fits', cut: 'conv_c', size: 16, outputShape: [4, 4, 2] },
    { name: 'a convolution cut at a larger input', cut: 'conv_b', size: 32, outputShape: [24, 24, 2] },
    {
      name: 'a layer the base has not',
      cut: 'conv_d',
      size: 16,
      path: ['base', 'cut'],
      message: /^the base has no layer named `conv_d`$/,
      hint: /^nearest layer names: conv_a, conv_b, conv_c$/,
    },
    {
      name: 'a layer the base has not, in a Sequential model',
      cut: 'conv_d',
      size: 16,
      sequential: true,
      path: ['base', 'cut'],
      message: /^the base has no layer named `conv_d`$/,
      hint: /^nearest layer names: conv_a, conv_b, conv_c$/,
    },
    {
      name: 'nothing near the name',
      cut: 'zzzzzzzzzzzzzzzz',
      size: 16,
      path: ['base', 'cut'],
      message: /no layer named/,
      hint: /^layers run from \S+ to top$/,
    },
    {
      name: 'an output with no extent at this image size',
      cut: 'conv_c',
      size: 12,
      path: ['dataset', 'image', 'size'],
      message: /^at 12×12 the base's output at `conv_c` has shape \[0, 0, 2\]$/,
      hint: /^use larger images or cut the base lower$/,
    },
    {
      name: 'a classifier at another input size',
      cut: 'top',
      size: 24,
      path: ['base', 'cut'],
      message: /^the base cannot be built cut at `top` with input 24×24×3: /,
      hint: /Flatten and Dense only fit the input size/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const artifacts = await smallBase(c.sequential ?? false);
      const spec = specFor(c.cut, c.size);
      const result = await cutBase(spec, {
        artifacts,
        preprocessing: preprocessingFor(spec.base.normalize, spec.dataset.image),
        baseInput: inputShape(artifacts.modelTopology),
      });
      if (c.outputShape) {
        assert.ok(result.ok, result.ok ? '' : result.diagnostics.map((d) => d.message).join('; '));
        assert.deepEqual(result.value.outputShape, c.outputShape);
        assert.equal(result.value.base.layers.at(-1)!.name, c.cut);
        assert.ok(
          result.value.base.layers.every((l) => !l.trainable),
          'the base starts frozen',
        );
        result.value.base.dispose();
        return;
      }
      assert.ok(!result.ok, 'the cut is refused');
      assert.equal(result.diagnostics.length, 1);
      const [d] = result.diagnostics;
      assert.deepEqual([d!.file, d!.path, d!.severity], [spec.file, c.path, 'error']);
      assert.match(d!.message, c.message!);
      assert.match(d!.hint ?? '', c.hint!);
    });
  }
});
