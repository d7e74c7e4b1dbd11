import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { configDifferences } from '../../src/api/compare.js';
import { formatComparedNumber } from '../../src/api/compared-number.js';
import { packageRoot } from '../../src/package/package-root.js';
import { tlpipe, workspace } from './cli-harness.js';

describe('config differences are key paths down to their leaves', () => {
  const cases: { name: string; configs: unknown[]; rows: { path: string; values: unknown[] }[] }[] = [
    {
      name: 'a changed value is one row',
      configs: [{ head: [{ dense: { units: 16 } }] }, { head: [{ dense: { units: 24 } }] }],
      rows: [{ path: 'head[0].dense.units', values: [16, 24] }],
    },
    {
      name: 'a stage only one run has is a row per leaf, absent on the other side',
      configs: [
        { train: { stages: [{ epochs: 1 }, { epochs: 2, optimizer: { name: 'sgd' } }] } },
        { train: { stages: [{ epochs: 3 }] } },
      ],
      rows: [
        { path: 'train.stages[0].epochs', values: [1, 3] },
        { path: 'train.stages[1].epochs', values: [2, undefined] },
        { path: 'train.stages[1].optimizer.name', values: ['sgd', undefined] },
      ],
    },
    {
      name: 'a list of scalars is one leaf',
      configs: [{ unfreeze: ['block_12_*'] }, { unfreeze: ['block_12_*', 'block_13_*'] }],
      rows: [{ path: 'unfreeze', values: [['block_12_*'], ['block_12_*', 'block_13_*']] }],
    },
    {
      name: 'a layer with empty options that only one run has still shows',
      configs: [{ head: [{ dense: { units: 2 } }] }, { head: [{ dense: { units: 2 } }, { flatten: {} }] }],
      rows: [{ path: 'head[1].flatten', values: [undefined, {}] }],
    },
    {
      name: 'an empty object beside a filled one is said by the filled keys alone',
      configs: [{ limit: {} }, { limit: { perClass: 8 } }],
      rows: [{ path: 'limit.perClass', values: [undefined, 8] }],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      assert.deepEqual(configDifferences(c.configs), c.rows);
    });
});

describe('compared numbers are formatted by what they measure', () => {
  const cases: { name: string; metric: string; value: number | null; text: string }[] = [
    { name: 'an accuracy of 1 keeps its 4 decimals', metric: 'accuracy', value: 1, text: '1.0000' },
    { name: 'a loss of 0 keeps its 4 decimals', metric: 'val_loss', value: 0, text: '0.0000' },
    { name: 'seconds to a tenth, as tlpipe runs prints them', metric: 'seconds', value: 2.999, text: '3.0' },
    { name: 'whole seconds to a tenth too', metric: 'seconds', value: 4, text: '4.0' },
    { name: 'epochs whole', metric: 'epochs', value: 10, text: '10' },
    { name: 'nothing as a dash', metric: 'accuracy', value: null, text: '–' },
  ];
  for (const c of cases)
    it(c.name, () => {
      assert.equal(formatComparedNumber(c.metric, c.value), c.text);
    });
});

/** Two real run records (their models left out): pets/0001 trains the head, pets/0002 adds a fine-tuning stage. */
describe('tlpipe compare and report of a run that adds a stage', () => {
  const dir = workspace('compare-stage');
  const runs = path.join(dir, 'runs');
  before(() => cpSync(path.join(packageRoot(), 'test', 'fixtures', 'runs'), runs, { recursive: true }));

  const cases: { name: string; args: string[]; check: (stdout: string) => void }[] = [
    {
      name: 'compare prints the side-by-side table, a row per key of the added stage',
      args: ['compare', 'pets/0001', 'pets/0002'],
      check: (stdout) => {
        assert.match(stdout, /^ +pets\/0001-c966df94 +pets\/0002-8006e2b8$/m, 'a header of run columns');
        assert.doesNotMatch(stdout, /^\S.*:\n {2}pets\//m, 'no block of lines per key');
        assert.match(stdout, /^train\.stages\[1\]\.optimizer\.learningRate +– +0\.00003$/m);
        assert.match(stdout, /^train\.stages\[1\]\.unfreeze +– +\["block_12_\*","block_13_\*"\]$/m);
        assert.doesNotMatch(stdout, /^train\.stages\[1\] /m, 'no row of the whole stage');
        assert.deepEqual(
          stdout.split('\n').filter((l) => [...l].length > 100),
          [],
        );
      },
    },
    {
      name: 'compare prints accuracies with 4 decimals and seconds to a tenth',
      args: ['compare', 'pets/0001', 'pets/0002'],
      check: (stdout) => {
        assert.match(stdout, /^seconds +3\.0 +4\.6$/m);
        assert.match(stdout, /^head accuracy +1\.0000 +1\.0000$/m);
        assert.match(stdout, /^finetune val_accuracy +– +1\.0000$/m);
      },
    },
    {
      name: 'report writes the same rows to compare.html',
      args: ['report', 'pets/0001', 'pets/0002', '--out', 'compare.html'],
      check: () => {
        const html = readFileSync(path.join(dir, 'compare.html'), 'utf8');
        const row = (key: string, ...cells: string[]): RegExp =>
          new RegExp(
            `<th style="text-align:left">${key.replace(/[[\]().*]/g, '\\$&')}</th>${cells.map((c) => `<td>${c.replace(/[[\]().*]/g, '\\$&')}</td>`).join('')}`,
          );
        assert.match(html, row('train.stages[1].optimizer.learningRate', '–', '0.00003'));
        assert.match(html, row('train.stages[1].unfreeze', '–', '[&quot;block_12_*&quot;,&quot;block_13_*&quot;]'));
        assert.match(html, row('seconds', '3.0', '4.6'));
        assert.match(html, row('head accuracy', '1.0000', '1.0000'));
        assert.doesNotMatch(html, /<th style="text-align:left">train\.stages\[1\]<\/th>/);
      },
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const r = await tlpipe([...c.args, '--runs', runs], dir);
      assert.equal(r.code, 0, r.stderr);
      c.check(r.stdout);
    });
});
