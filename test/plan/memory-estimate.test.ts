import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inferenceBatch, largestBatch } from '../../src/plan/memory-estimate.js';

describe('inference batches fit the heap at any image size', () => {
  // MobileNetV2's largest activation map is its first expansion: (size/2)² × 96 values.
  const cases: [name: string, largest: number, batch: number][] = [
    ['64×64 digits', 32 * 32 * 96, 32],
    ['224×224 photos', 112 * 112 * 96, 32],
    ['512×512', 256 * 256 * 96, 10],
    ['1024×1024', 512 * 512 * 96, 2],
    ['a map too large for even one example still gets a batch of 1', 2 ** 28, 1],
  ];
  for (const [name, largest, batch] of cases)
    it(name, () => assert.equal(inferenceBatch([{ outputElements: 10 }, { outputElements: largest }]), batch));
});

describe('the largest training batch that fits', () => {
  it('leaves the reserve free and never goes below 0', () => {
    assert.equal(largestBatch(290 * 2 ** 20, 4 * 2 ** 30), 13);
    assert.equal(largestBatch(8 * 2 ** 30, 4 * 2 ** 30), 0);
  });
});
