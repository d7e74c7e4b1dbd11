import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headParamCount, lossFor, resolveHead } from '../../../src/plan/compile-steps/head.js';
import { resolveClasses } from '../../../src/plan/compile-steps/classes.js';
import { balancedClassWeights } from '../../../src/plan/compile-steps/stage-training.js';
import type { ResolvedHeadLayer } from '../../../src/plan/types.js';
import { INPUTS, spec } from './facts.js';

const STAGE = ['{ name: a, epochs: 1 }'];

describe('resolveHead and resolveClasses', () => {
  const cases: {
    name: string;
    head?: string[];
    classNames?: string[];
    numClasses?: number;
    cutOutputShape?: number[];
    units?: number[];
    problems: (string | number)[][];
  }[] = [
    { name: '`units: classes` becomes the class count', units: [4], problems: [] },
    {
      name: 'a last layer with another score count',
      head: ['globalAveragePooling2d: {}', 'dense: { units: 3, activation: softmax }'],
      units: [3],
      problems: [['head', 1, 'dense', 'units']],
    },
    {
      name: 'pooling a base that outputs a vector (known from the facts, not the file)',
      cutOutputShape: [1280],
      units: [4],
      problems: [['head', 0]],
    },
    {
      name: 'class names that do not match the labels',
      classNames: ['a', 'b'],
      units: [4],
      problems: [['dataset', 'classNames']],
    },
    { name: 'a single class', numClasses: 1, units: [1], problems: [['dataset']] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = spec(STAGE, '', c.head);
      const withNames = c.classNames ? { ...s, dataset: { ...s.dataset, classNames: c.classNames } } : s;
      const inputs = {
        dataset: { ...INPUTS.dataset, numClasses: c.numClasses ?? INPUTS.dataset.numClasses },
        base: { ...INPUTS.base, cutOutputShape: c.cutOutputShape ?? INPUTS.base.cutOutputShape },
      };
      const { head, diagnostics } = resolveHead(withNames, inputs);
      const classes = resolveClasses(withNames, inputs);
      assert.deepEqual(
        head.flatMap((l) => (l.type === 'dense' ? [l.units] : [])),
        c.units,
      );
      assert.deepEqual(
        [...classes.diagnostics, ...diagnostics].map((d) => d.path),
        c.problems,
      );
    });
  }
});

describe('headParamCount', () => {
  const dense = (
    units: number,
    useBias = true,
    activation: 'relu' | 'softmax' | 'linear' = 'relu',
  ): ResolvedHeadLayer => ({ type: 'dense', units, activation, useBias });
  const cases: { name: string; shape: number[]; head: ResolvedHeadLayer[]; params: number }[] = [
    {
      name: 'pooling, then dense with bias',
      shape: [3, 3, 1280],
      head: [{ type: 'globalAveragePooling2d' }, dense(4)],
      params: 1280 * 4 + 4,
    },
    {
      name: 'flatten, then dense without bias',
      shape: [3, 3, 8],
      head: [{ type: 'flatten' }, dense(2, false)],
      params: 72 * 2,
    },
    {
      name: 'dropout and activation have no weights',
      shape: [16],
      head: [{ type: 'dropout', rate: 0.5 }, { type: 'activation', activation: 'relu' }, dense(2)],
      params: 16 * 2 + 2,
    },
    {
      name: 'a valid conv2d shrinks the map the dense layer after it reads',
      shape: [8, 8, 16],
      head: [
        { type: 'conv2d', filters: 4, kernelSize: [3, 3], strides: 1, padding: 'valid', activation: 'relu' },
        { type: 'flatten' },
        dense(2),
      ],
      params: 3 * 3 * 16 * 4 + 4 + 6 * 6 * 4 * 2 + 2,
    },
    {
      name: 'same padding and pooling by 2',
      shape: [8, 8, 16],
      head: [
        { type: 'conv2d', filters: 4, kernelSize: [3, 3], strides: 2, padding: 'same', activation: 'relu' },
        { type: 'maxPooling2d', poolSize: 2, strides: 2, padding: 'valid' },
        { type: 'flatten' },
        dense(2),
      ],
      params: 3 * 3 * 16 * 4 + 4 + 2 * 2 * 4 * 2 + 2,
    },
    {
      name: 'batch norm counts gamma and beta',
      shape: [3, 3, 8],
      head: [{ type: 'batchNormalization' }, { type: 'globalMaxPooling2d' }, dense(2)],
      params: 2 * 8 + 8 * 2 + 2,
    },
    {
      name: 'reshape sets the shape',
      shape: [4, 4, 2],
      head: [{ type: 'reshape', targetShape: [8, 4] }, dense(3)],
      params: 4 * 3 + 3,
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(headParamCount(c.head, c.shape), c.params));

  it('the loss follows the last layer', () => {
    assert.equal(lossFor([dense(4, true, 'softmax')]), 'categoricalCrossentropy');
    assert.equal(lossFor([dense(4, true, 'linear')]), 'softmaxCrossEntropyFromLogits');
  });
});

describe('balancedClassWeights', () => {
  const cases: { name: string; perClass: number[]; weights: number[] }[] = [
    { name: 'equal classes weigh 1', perClass: [5, 5], weights: [1, 1] },
    { name: 'n / (classes × n_class)', perClass: [30, 30, 20, 10], weights: [0.75, 0.75, 1.125, 2.25] },
    { name: 'a class with no examples weighs 0', perClass: [6, 0, 3], weights: [0.5, 0, 1] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(balancedClassWeights(c.perClass), c.weights));
});
