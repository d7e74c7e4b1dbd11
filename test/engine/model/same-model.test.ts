import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { sameModel } from '../../../src/engine/model/same-model.js';

/** A small conv + dense model, seeded, as a run's export holds one. */
function model(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers
    .conv2d({ filters: 4, kernelSize: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'conv' })
    .apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers
    .dense({
      units: 3,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      name: 'out',
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

/** The model saved to memory, its artifacts changed by `edit`, and loaded back, as the export's reload does from disk. */
async function reloaded(original: tf.LayersModel, edit: (a: tf.io.ModelArtifacts) => void): Promise<tf.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await original.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = { ...a, weightData: (a.weightData as ArrayBuffer).slice(0) };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  edit(artifacts!);
  return tf.loadLayersModel(tf.io.fromMemory(artifacts!));
}

/** Flips bits of the byte at `offset` of the weights (little-endian: byte 0 of a float is its lowest mantissa bits). */
const flipByte =
  (offset: number, mask: number) =>
  (a: tf.io.ModelArtifacts): void => {
    new Uint8Array(a.weightData as ArrayBuffer)[offset]! ^= mask;
  };

describe("the export's reload check: the model read back is the model trained, bit for bit", () => {
  const cases: { name: string; edit: (a: tf.io.ModelArtifacts) => void; same: boolean }[] = [
    { name: 'read back unchanged', edit: () => {}, same: true },
    { name: "the lowest bit of the first kernel's first value flipped", edit: flipByte(0, 1), same: false },
    { name: 'a sign bit flipped in the middle of the weights', edit: flipByte(4 * 60 + 3, 0x80), same: false },
    {
      name: "the output layer's activation changed in the topology",
      edit: (a) => {
        const text = JSON.stringify(a.modelTopology).replace('"softmax"', '"sigmoid"');
        a.modelTopology = JSON.parse(text) as object;
      },
      same: false,
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const original = model();
      const back = await reloaded(original, c.edit);
      try {
        assert.equal(sameModel(original, back), c.same);
      } finally {
        original.dispose();
        back.dispose();
      }
    });
});
