import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { duration, formatProgress, progressTracker } from '../../src/progress/progress-rate.js';

describe('progress with rate and ETA', () => {
  it("measures the rate from the phase's first count and the time left at that rate", () => {
    let clock = 0;
    const track = progressTracker(() => clock);
    assert.equal(
      formatProgress(track({ type: 'features-progress', split: 'train', done: 100, total: 1100 })!),
      'features train: 100/1,100 examples',
    );
    clock = 2000;
    assert.equal(
      formatProgress(track({ type: 'features-progress', split: 'train', done: 500, total: 1100 })!),
      'features train: 500/1,100 examples, 200/s, ETA 3s',
    );
    clock = 5000;
    const last = track({ type: 'features-progress', split: 'train', done: 1100, total: 1100 })!;
    assert.equal(last.last, true);
    assert.equal(formatProgress(last), 'features train: 1,100/1,100 examples, 200/s');
  });

  it("phases are apart: an epoch's batches, a frozen prefix, each split", () => {
    let clock = 0;
    const track = progressTracker(() => clock);
    track({ type: 'batch-end', stage: 'head', epoch: 2, batch: 1, batches: 10, loss: 1 });
    track({ type: 'features-progress', split: 'validation', done: 10, total: 50, at: 'block_3' });
    clock = 1000;
    assert.equal(
      formatProgress(track({ type: 'batch-end', stage: 'head', epoch: 2, batch: 5, batches: 10, loss: 1 })!),
      'head epoch 2: 5/10 batches, 4.0/s, ETA 1s',
    );
    assert.equal(
      formatProgress(track({ type: 'features-progress', split: 'validation', done: 30, total: 50, at: 'block_3' })!),
      'frozen prefix validation: 30/50 examples, 20/s, ETA 1s',
    );
    assert.equal(
      track({
        type: 'epoch-end',
        metrics: { stage: 'head', epoch: 2, stageEpoch: 2, loss: 1, accuracy: 0, lr: 0.1, seconds: 1 },
      }),
      undefined,
    );
  });

  const durations: [number, string][] = [
    [0.4, '0s'],
    [59, '59s'],
    [61, '1m 01s'],
    [3599, '59m 59s'],
    [3660, '1h 01m'],
  ];
  for (const [seconds, text] of durations)
    it(`duration ${seconds} s is ${text}`, () => assert.equal(duration(seconds), text));
});
