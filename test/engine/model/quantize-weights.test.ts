import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { quantizeWeights, toFloat16 } from '../../../src/engine/model/quantize-weights.js';

describe('quantized weights, decoded by tfjs itself', () => {
  const cases: { name: string; value: number; bits: number }[] = [
    { name: 'one', value: 1, bits: 0x3c00 },
    { name: 'minus two', value: -2, bits: 0xc000 },
    { name: 'the largest half', value: 65504, bits: 0x7bff },
    { name: 'overflow to infinity', value: 1e6, bits: 0x7c00 },
    { name: 'the smallest subnormal', value: 2 ** -24, bits: 0x0001 },
    { name: 'below half the smallest subnormal: zero', value: 2 ** -26, bits: 0x0000 },
    { name: 'ties round to even', value: 1 + 2 ** -11, bits: 0x3c00 },
    { name: 'above a tie rounds up', value: 1 + 2 ** -11 + 2 ** -20, bits: 0x3c01 },
  ];
  for (const c of cases) it(`toFloat16: ${c.name}`, () => assert.equal(toFloat16(Float32Array.of(c.value))[0], c.bits));

  const weights = (): tf.NamedTensorMap => ({
    kernel: tf.randomNormal([64, 32], 0, 0.3, 'float32', 1),
    bias: tf.linspace(-1, 1, 32),
    count: tf.tensor1d([3, 4], 'int32'),
  });

  for (const [dtype, ratio, tolerance] of [
    ['uint8', 4, 0.01],
    ['float16', 2, 0.001],
  ] as const) {
    it(`${dtype}: ${ratio}× smaller, and tf.io.decodeWeights gives the weights back within ${tolerance}`, async () => {
      const named = weights();
      const { data, specs } = await tf.io.encodeWeights(named);
      const q = quantizeWeights(specs, data as ArrayBuffer, dtype);
      const floatBytes = (64 * 32 + 32) * 4;
      assert.equal(q.data.byteLength, floatBytes / ratio + 8, 'the int32 weight stays 4 bytes a value');
      const decoded = tf.io.decodeWeights(q.data, q.specs);
      for (const name of ['kernel', 'bias']) {
        const error = tf.max(tf.abs(tf.sub(decoded[name]!, named[name]!))).dataSync()[0]!;
        assert.ok(error <= tolerance, `${name}: ${error}`);
      }
      assert.deepEqual(Array.from(decoded['count']!.dataSync()), [3, 4]);
      tf.dispose([...Object.values(named), ...Object.values(decoded)]);
    });
  }
});
