import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frozenPrefix, MAX_CACHED_PREFIX_BYTES, prefixMode, type FrozenPrefix } from '../../src/plan/frozen-prefix.js';
import type { BaseLayerFacts } from '../../src/plan/types.js';

/** A layer reading `inbound` (the input layer is `image`), with a 4×4×8 output. */
const layer = (name: string, inbound: string[], className = 'Conv2D'): BaseLayerFacts => ({
  name,
  className,
  params: 1,
  outputElements: 128,
  outputShape: [4, 4, 8],
  inbound,
});

/** Two MobileNetV2-like blocks: a stem, block 1 (expand, project, add with its input), block 2 likewise. */
const BLOCKS: BaseLayerFacts[] = [
  layer('stem', ['image']),
  layer('b1_expand', ['stem']),
  layer('b1_project', ['b1_expand']),
  layer('b1_add', ['stem', 'b1_project'], 'Add'),
  layer('b2_expand', ['b1_add']),
  layer('b2_project', ['b2_expand']),
  layer('b2_add', ['b1_add', 'b2_project'], 'Add'),
  layer('top', ['b2_add']),
];

const cases: { name: string; layers: BaseLayerFacts[]; trainable: string[]; expect: FrozenPrefix }[] = [
  {
    name: 'the last block learns: the prefix ends at the tensor its residual reads',
    layers: BLOCKS,
    trainable: ['b2_expand', 'b2_project', 'top'],
    expect: {
      kind: 'split',
      boundary: 'b1_add',
      shape: [4, 4, 8],
      layers: ['stem', 'b1_expand', 'b1_project', 'b1_add'],
    },
  },
  {
    name: 'only the top layer learns',
    layers: BLOCKS,
    trainable: ['top'],
    expect: { kind: 'split', boundary: 'b2_add', shape: [4, 4, 8], layers: BLOCKS.slice(0, 7).map((l) => l.name) },
  },
  {
    name: 'learning inside a block with a frozen residual beside it: two tensors cross',
    layers: BLOCKS,
    trainable: ['b2_project'],
    expect: {
      kind: 'none',
      reason: 'the frozen layers meet the learning ones at 2 tensors (b2_expand, b1_add), not one',
    },
  },
  {
    name: 'the first layer learns: no prefix',
    layers: BLOCKS,
    trainable: ['stem', 'top'],
    expect: { kind: 'none', reason: 'the stage trains from the first layer' },
  },
  {
    name: 'a learning layer reads the image beside a frozen one',
    layers: [layer('a', ['image']), layer('b', ['image']), layer('c', ['a', 'b'], 'Concatenate')],
    trainable: ['b'],
    expect: { kind: 'none', reason: 'a layer that learns reads the input image directly' },
  },
  {
    name: 'a dropout in the frozen part: not a fixed function while training',
    layers: [layer('a', ['image']), layer('drop', ['a'], 'Dropout'), layer('b', ['drop'])],
    trainable: ['b'],
    expect: { kind: 'none', reason: 'the frozen layer `drop` (Dropout) is random while training' },
  },
  {
    name: 'a base without its graph (an older plan record)',
    layers: [{ name: 'a', className: 'Conv2D', params: 1 }],
    trainable: ['a'],
    expect: { kind: 'none', reason: "the base's layer graph is not recorded" },
  },
];

describe('the frozen prefix of a fine-tuning stage', () => {
  for (const c of cases) it(c.name, () => assert.deepEqual(frozenPrefix(c.layers, new Set(c.trainable)), c.expect));
});

describe("how the prefix's output is made", () => {
  const split = { kind: 'split' as const, boundary: 'b1_add', shape: [4, 4, 8], layers: ['stem'] };
  it('once per example when it fits', () =>
    assert.deepEqual(prefixMode(split, 1000, false), {
      boundary: 'b1_add',
      shape: [4, 4, 8],
      layers: 1,
      bytes: 512_000,
      mode: 'precompute',
    }));
  it('every batch with augmentation', () => assert.equal(prefixMode(split, 1000, true).mode, 'perBatch'));
  it('every batch when the activations would not fit', () => {
    const big = prefixMode(split, Math.ceil(MAX_CACHED_PREFIX_BYTES / 512) + 1, false);
    assert.equal(big.mode, 'perBatch');
    assert.match(big.reason!, /GiB of activations would not fit in memory/);
  });
});
