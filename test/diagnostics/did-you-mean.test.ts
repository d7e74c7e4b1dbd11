import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestMatches, editDistance } from '../../src/diagnostics/did-you-mean.js';

describe('editDistance', () => {
  const cases: [string, string, number][] = [
    ['', '', 0],
    ['seed', 'seed', 0],
    ['seeds', 'seed', 1],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
  ];
  for (const [a, b, expected] of cases)
    it(`${a || '∅'} → ${b || '∅'} = ${expected}`, () => assert.equal(editDistance(a, b), expected));
});

describe('closestMatches', () => {
  const keys = ['learningRate', 'name', 'momentum', 'epochs', 'batchSize'];
  const cases: { word: string; expected: string[] }[] = [
    { word: 'learningrate', expected: ['learningRate'] },
    { word: 'epoch', expected: ['epochs'] },
    { word: 'batch_size', expected: ['batchSize'] },
    { word: 'zzzzzzzz', expected: [] },
  ];
  for (const c of cases) it(c.word, () => assert.deepEqual(closestMatches(c.word, keys, 1), c.expected));
});
