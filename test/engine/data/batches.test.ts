import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { prefetched, type BatchSource } from '../../../src/engine/data/batches.js';

/** A source of one-number batches whose load of `failing` rejects at once; the others resolve. */
function source(failing: number): BatchSource {
  return {
    count: 4,
    batch: (positions) =>
      positions[0] === failing
        ? Promise.reject(new Error(`batch ${failing} could not be read`))
        : Promise.resolve({ x: tf.tensor1d(positions), y: tf.tensor1d(positions) }),
  };
}

describe('prefetched batches', () => {
  it('yields every batch in order and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const seen: number[][] = [];
    for await (const { positions, x, y } of prefetched(source(-1), [[0], [1], [2], [3]])) {
      seen.push(positions);
      tf.dispose([x, y]);
    }
    assert.deepEqual(seen, [[0], [1], [2], [3]]);
    assert.equal(tf.memory().numTensors, before);
  });

  it('a batch that fails to load while the one before it trains: the loop gets the error, never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const before = tf.memory().numTensors;
    try {
      await assert.rejects(async () => {
        for await (const { x, y } of prefetched(source(1), [[0], [1], [2]])) {
          // The "training step": long enough for the prefetched load to have failed by now.
          await sleep(50);
          tf.dispose([x, y]);
        }
      }, /batch 1 could not be read/);
      await sleep(50);
      assert.deepEqual(unhandled, []);
      assert.equal(tf.memory().numTensors, before);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a consumer that stops early: the batch already prefetched is freed', async () => {
    const before = tf.memory().numTensors;
    for await (const { x, y } of prefetched(source(-1), [[0], [1], [2]])) {
      tf.dispose([x, y]);
      break;
    }
    assert.equal(tf.memory().numTensors, before);
  });
});
