import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyFreezeRules, splitBlocks, type FreezeRule, type TrainableChange } from '../../src/plan/freeze-rules.js';

const LAYERS = [
  'Conv1',
  'bn_Conv1',
  'block_12_expand',
  'block_12_add',
  'block_13_expand',
  'block_13_expand_BN',
  'block_16_project',
  'Conv_1',
  'Conv_1_bn',
  'out_relu',
];

/** Trainable layers after top-level `freeze` rules on an all-trainable base. */
const afterFreeze = (rules: FreezeRule[]) => [
  ...applyFreezeRules(LAYERS, new Set(LAYERS), [{ kind: 'freeze', rules }]).trainable,
];

describe('freeze rules: rule → exactly which layers stay trainable', () => {
  const cases: { rules: FreezeRule[]; trainable: string[] }[] = [
    { rules: ['all'], trainable: [] },
    { rules: ['none'], trainable: LAYERS },
    { rules: ['Conv1'], trainable: LAYERS.filter((l) => l !== 'Conv1') },
    {
      rules: ['block_1[23]_*'],
      trainable: ['Conv1', 'bn_Conv1', 'block_16_project', 'Conv_1', 'Conv_1_bn', 'out_relu'],
    },
    { rules: ['/_BN$|_bn$/'], trainable: LAYERS.filter((l) => !/_BN$|_bn$/.test(l)) },
    { rules: ['[0, 7)'], trainable: ['Conv_1', 'Conv_1_bn', 'out_relu'] },
    { rules: ['[0, -3)'], trainable: ['Conv_1', 'Conv_1_bn', 'out_relu'] },
    { rules: ['[2, 3]'], trainable: LAYERS.filter((l) => !['block_12_expand', 'block_12_add'].includes(l)) },
    { rules: ['[-2, end)'], trainable: LAYERS.slice(0, -2) },
    { rules: [{ from: 'block_16_project' }], trainable: LAYERS.slice(0, 6) },
    { rules: ['Conv?'], trainable: LAYERS.filter((l) => l !== 'Conv1') },
  ];
  for (const c of cases) it(JSON.stringify(c.rules), () => assert.deepEqual(afterFreeze(c.rules), c.trainable));

  it('stages build on each other: unfreeze, then freeze carves exceptions', () => {
    const start = new Set<string>();
    const changes: TrainableChange[] = [
      { kind: 'unfreeze', rules: [{ from: 'block_13_expand' }] },
      { kind: 'freeze', rules: ['/_BN$|_bn$/'] },
    ];
    assert.deepEqual(
      [...applyFreezeRules(LAYERS, start, changes).trainable],
      ['block_13_expand', 'block_16_project', 'Conv_1', 'out_relu'],
    );
  });

  const problems: { rules: FreezeRule[]; message: RegExp }[] = [
    { rules: ['block_99_*'], message: /`block_99_\*` matches no base layer/ },
    { rules: ['Conv_2'], message: /`Conv_2` matches no base layer/ },
    { rules: [{ from: 'nowhere' }], message: /no base layer named `nowhere`/ },
    { rules: ['/[/'], message: /not a valid regular expression/ },
  ];
  for (const c of problems) {
    it(`reports ${JSON.stringify(c.rules)}`, () => {
      const { problems: found } = applyFreezeRules(LAYERS, new Set(LAYERS), [{ kind: 'freeze', rules: c.rules }]);
      assert.equal(found.length, 1);
      assert.match(found[0]!.message, c.message);
      assert.equal(found[0]!.index, 0);
    });
  }
});

describe('splitBlocks', () => {
  it('names the residual blocks a trainable set cuts through', () => {
    const blocks = splitBlocks(
      LAYERS,
      new Set(['block_13_expand', 'block_12_expand', 'block_12_add']),
      /^(block_\d+)_/,
    );
    assert.deepEqual(blocks, ['block_13']);
  });
});
