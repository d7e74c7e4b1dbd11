import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/package/package-root.js';
import { tlpipe, workspace, write } from './cli-harness.js';
import { SWEEP_PIPELINE } from './sweep-harness.js';

const WIDTH = 100;
const tooWide = (text: string): string[] => text.split('\n').filter((l) => [...l].length > WIDTH);

/** plan, models, runs and compare print within 100 columns: a normal terminal shows them without wrapping. */
describe('what the CLI prints fits 100 columns', () => {
  const dir = workspace('widths');
  const runs = path.join(dir, 'runs');
  const pipelines = path.join(packageRoot(), 'pipelines');

  const plans = ['quickstart.yaml', 'seed-transfer.yaml', 'two-stage.yaml', 'seed-cnn.yaml'];
  for (const name of plans) {
    it(`plan ${name}`, async () => {
      const r = await tlpipe(['plan', path.join(pipelines, name)], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.split('\n').length > 10);
      assert.deepEqual(tooWide(r.stdout), []);
    });
  }

  it('plan of a sweep', async () => {
    const r = await tlpipe(['plan', write(dir, 'grid.yaml', SWEEP_PIPELINE('    head[1].dense.units: { values: [16, 32] }'))], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tooWide(r.stdout), []);
  });

  it('models', async () => {
    const r = await tlpipe(['models'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mobilenet_v2/);
    assert.deepEqual(tooWide(r.stdout), []);
  });

  it('runs and compare, of runs whose configurations differ in many keys', async () => {
    const file = write(dir, 'w.yaml', SWEEP_PIPELINE('', 1).replace(/sweep:\n[\s\S]*$/, ''));
    const sets = [[], ['--set', 'head[1].dense.units=16', '--set', 'train.stages[0].optimizer={ name: sgd, learningRate: 0.01, momentum: 0.9 }', '--set', 'dataset.image.size=[40, 40]'], ['--set', 'base.cut=block_6_expand_relu', '--set', 'train.batchSize=8']];
    for (const set of sets) {
      const r = await tlpipe(['run', file, '--runs', runs, '--quiet', ...set], dir);
      assert.equal(r.code, 0, r.stderr);
    }
    const list = await tlpipe(['runs', '--runs', runs], dir);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(tooWide(list.stdout), []);
    for (const refs of [['grid/0001', 'grid/0002'], ['grid/0001', 'grid/0002', 'grid/0003']]) {
      const c = await tlpipe(['compare', ...refs, '--runs', runs], dir);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /config differences/);
      assert.deepEqual(tooWide(c.stdout), []);
    }
  });
});
