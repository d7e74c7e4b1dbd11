import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENGINE_VERSIONS, featuresKey, stageKey } from '../../../src/engine/cache/stage-cache.js';
import type { FeaturesTask, Plan } from '../../../src/plan/types.js';

/**
 * A cache entry is used only by the computation that would write the same one: the same plan
 * fingerprint, backend and examples — and the same tlpipe and tfjs, whose kernels may change the
 * last bits of the same plan's results (an older tlpipe's max-pooling gradient did).
 */
describe('stage and features cache keys', () => {
  const stage = { fingerprint: 'f'.repeat(16) } as Plan['stages'][number];
  const task = { fingerprint: 'a'.repeat(16) } as FeaturesTask;
  const versions = ENGINE_VERSIONS;
  const cases: { name: string; same: boolean; stage: [string, string]; features: [string, string] }[] = [
    {
      name: 'the same plan, backend, examples and versions',
      same: true,
      stage: [stageKey(stage, 'wasm'), stageKey(stage, 'wasm', { ...versions })],
      features: [
        featuresKey(task, 'train', 'wasm', [1, 2]),
        featuresKey(task, 'train', 'wasm', [1, 2], { ...versions }),
      ],
    },
    {
      name: 'another backend',
      same: false,
      stage: [stageKey(stage, 'wasm'), stageKey(stage, 'cpu')],
      features: [featuresKey(task, 'train', 'wasm', [1, 2]), featuresKey(task, 'train', 'cpu', [1, 2])],
    },
    {
      name: 'another tlpipe',
      same: false,
      stage: [stageKey(stage, 'wasm'), stageKey(stage, 'wasm', { ...versions, tlpipe: '0.0.9' })],
      features: [
        featuresKey(task, 'train', 'wasm', [1, 2]),
        featuresKey(task, 'train', 'wasm', [1, 2], { ...versions, tlpipe: '0.0.9' }),
      ],
    },
    {
      name: 'another tfjs',
      same: false,
      stage: [stageKey(stage, 'wasm'), stageKey(stage, 'wasm', { ...versions, tfjs: '4.21.0' })],
      features: [
        featuresKey(task, 'train', 'wasm', [1, 2]),
        featuresKey(task, 'train', 'wasm', [1, 2], { ...versions, tfjs: '4.21.0' }),
      ],
    },
  ];
  for (const c of cases)
    it(`${c.name}: ${c.same ? 'the same key' : 'another key'}`, () => {
      assert.equal(c.stage[0] === c.stage[1], c.same);
      assert.equal(c.features[0] === c.features[1], c.same);
    });

  it('the versions are the installed ones', () => {
    assert.match(versions.tlpipe, /^\d+\.\d+\.\d+/);
    assert.match(versions.tfjs, /^\d+\.\d+\.\d+/);
  });
});
