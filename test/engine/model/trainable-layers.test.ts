import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { setTrainableLayers, type TrainableLayers } from '../../../src/engine/model/trainable-layers.js';

function model(): tf.LayersModel {
  const input = tf.input({ shape: [4], name: 'x' });
  let x = input as tf.SymbolicTensor;
  for (const name of ['a', 'b', 'c']) x = tf.layers.dense({ units: 2, name }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

describe('which layers train: set in one place', () => {
  const cases: { name: string; before: TrainableLayers; which: TrainableLayers; trainable: string[] }[] = [
    { name: 'all: every layer, the input included', before: 'none', which: 'all', trainable: ['x', 'a', 'b', 'c'] },
    { name: 'none: every layer frozen', before: 'all', which: 'none', trainable: [] },
    {
      name: 'named layers: exactly those, the others frozen again',
      before: 'all',
      which: new Set(['b', 'c']),
      trainable: ['b', 'c'],
    },
    {
      name: 'a name the model lacks changes nothing else',
      before: 'none',
      which: new Set(['a', 'missing']),
      trainable: ['a'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = model();
      setTrainableLayers(m, c.before);
      setTrainableLayers(m, c.which);
      assert.deepEqual(
        m.layers.filter((l) => l.trainable).map((l) => l.name),
        c.trainable,
      );
      assert.equal(m.trainableWeights.length, c.trainable.filter((n) => n !== 'x').length * 2);
      m.dispose();
    });
  }
});
