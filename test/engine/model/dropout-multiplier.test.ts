import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { dropoutMultiplier } from '../../../src/engine/model/build-models.js';

/** Rates whose keep = 1 − rate is inexact in float32 (all but 0.5 and 0.25), on enough draws to reach every rounding case. */
const RATES = [0.1, 0.25, 0.3, 0.5, 0.7, 0.95];
const SHAPE = [64, 576];

describe("the seeded Dropout's host multiplier is tf.dropout's, to the bit", () => {
  after(() => selectBackend('cpu'));
  for (const backend of ['cpu', 'wasm'] as const)
    for (const rate of RATES)
      it(`${backend}, rate ${rate}`, async () => {
        await selectBackend(backend);
        const [fromTf, fromHost] = tf.tidy(() => {
          const x = tf.randomNormal(SHAPE, 0, 1, 'float32', 7);
          return [
            tf.dropout(x, rate, undefined, 1234).dataSync(),
            tf.mul(x, dropoutMultiplier(SHAPE, rate, 1234)).dataSync(),
          ];
        });
        assert.equal(fromHost.length, fromTf.length);
        const differing = fromHost.findIndex((v, i) => !Object.is(v, fromTf[i]));
        assert.equal(differing, -1, `element ${differing}: ${fromHost[differing]} vs ${fromTf[differing]}`);
        // Not vacuous: some dropped, some kept.
        assert.ok(fromHost.some((v) => v === 0) && fromHost.some((v) => v !== 0));
      });
});
