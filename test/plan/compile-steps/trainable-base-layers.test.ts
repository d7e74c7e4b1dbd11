import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trainableBaseLayers } from '../../../src/plan/compile-steps/trainable-base-layers.js';
import { INPUTS, spec } from './facts.js';

describe('trainableBaseLayers', () => {
  const cases: {
    name: string;
    stages: string[];
    extra?: string;
    byStage: string[][];
    diagnostics?: [string, (string | number)[]][];
  }[] = [
    { name: 'freeze: all keeps the base frozen', stages: ['{ name: a, epochs: 1 }'], byStage: [[]] },
    {
      name: 'each stage starts from the one before: unfreeze, then freeze on top',
      stages: [
        "{ name: a, epochs: 1, unfreeze: ['block_16_*', 'Conv_1'] }",
        "{ name: b, epochs: 1, freeze: ['block_16_expand*'] }",
        '{ name: c, epochs: 1, unfreeze: [{ from: Conv_1 }] }',
      ],
      byStage: [
        ['block_16_expand', 'block_16_expand_BN', 'block_16_project', 'Conv_1'],
        ['block_16_project', 'Conv_1'],
        ['block_16_project', 'Conv_1', 'out_relu'],
      ],
      diagnostics: [
        ['warning', ['train', 'stages', 1]],
        ['warning', ['train', 'stages', 2]],
      ],
    },
    {
      name: 'freeze: none trains every layer from the start',
      stages: ['{ name: a, epochs: 1 }'],
      extra: 'freeze: none\n',
      byStage: [INPUTS.base.layers.map((l) => l.name)],
    },
    {
      name: "problems in file order: the top-level rule, then each stage's rules, multipliers and split blocks",
      stages: [
        "{ name: a, epochs: 1, unfreeze: ['blok_16_*', 'block_16_project'], optimizer: { multipliers: [{ layers: 'Conv_1', multiplier: 0.1 }, { layers: 'nope', multiplier: 2 }] } }",
      ],
      extra: "freeze: [all, 'Conv_9']\n",
      byStage: [['block_16_project']],
      diagnostics: [
        ['error', ['freeze', 1]],
        ['error', ['train', 'stages', 0, 'unfreeze', 0]],
        ['warning', ['train', 'stages', 0, 'optimizer', 'multipliers', 0, 'layers']],
        ['error', ['train', 'stages', 0, 'optimizer', 'multipliers', 1, 'layers']],
        ['warning', ['train', 'stages', 0]],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const found = trainableBaseLayers(spec(c.stages, c.extra ?? ''), INPUTS);
      assert.deepEqual(found.byStage, c.byStage);
      assert.deepEqual(
        found.diagnostics.map((d) => [d.severity, d.path]),
        c.diagnostics ?? [],
      );
    });
  }
});
