import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { featureRowsOf, readFeatureRows } from '../../../src/engine/data/feature-rows.js';
import { UserError } from '../../../src/diagnostics/user-error.js';

const COLUMNS = ['a', 'b'];

describe('rows of a CSV read for a tabular model', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tlpipe-rows-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const csv = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  const read = [
    {
      name: 'columns by name, in any order, other columns ignored; the label when there is one',
      text: 'label,b,extra,a\nx,2,zz,1\ny,4,zz,3\n',
      required: false,
      rows: [1, 2, 3, 4],
      labels: ['x', 'y'],
    },
    { name: 'no label column, and none needed', text: 'a,b\n1,2\n', required: false, rows: [1, 2], labels: undefined },
    { name: 'spaces around a number', text: 'a,b,label\n 1 , 2 ,x\n', required: true, rows: [1, 2], labels: ['x'] },
  ];
  for (const c of read) {
    it(c.name, async () => {
      const got = await readFeatureRows(csv('ok.csv', c.text), COLUMNS, { column: 'label', required: c.required });
      assert.deepEqual(Array.from(got.rows.data), c.rows);
      assert.equal(got.rows.width, 2);
      assert.deepEqual(got.labels, c.labels);
      assert.match(got.names[0]!, /ok\.csv:2$/);
    });
  }

  const refused = [
    {
      name: 'a missing feature column',
      text: 'a,label\n1,x\n',
      required: false,
      message: /bad\.csv:1: no feature column `b`; the header has `a`, `label`/,
    },
    {
      name: 'a missing label column, for evaluation',
      text: 'a,b\n1,2\n',
      required: true,
      message: /bad\.csv:1: no label column `label`/,
    },
    {
      name: 'a cell that is not a number',
      text: 'a,b\n1,2\n1,two\n',
      required: false,
      message: /bad\.csv:3: column `b` is not a number: "two"/,
    },
    {
      name: 'an empty cell',
      text: 'a,b\n1,\n',
      required: false,
      message: /bad\.csv:2: column `b` is not a number: ""/,
    },
    {
      name: 'a row of the wrong width',
      text: 'a,b\n1,2\n1,2,3\n',
      required: false,
      message: /bad\.csv:3: 3 fields, the header has 2/,
    },
    {
      name: 'a row without its label, for evaluation',
      text: 'a,b,label\n1,2,\n',
      required: true,
      message: /bad\.csv:2: missing label/,
    },
    {
      name: 'a header and no rows',
      text: 'a,b\n',
      required: false,
      message: /needs a header row and at least one data row/,
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}, naming file and line`, async () => {
      const file = csv('bad.csv', c.text);
      await assert.rejects(
        readFeatureRows(file, COLUMNS, { column: 'label', required: c.required }),
        (error: unknown) => {
          assert.ok(error instanceof UserError);
          assert.match(error.message, c.message);
          return true;
        },
      );
    });
  }

  it('names every bad row up to five, then how many more', async () => {
    const file = csv('many.csv', 'a,b\n' + 'x,1\n'.repeat(7));
    await assert.rejects(
      readFeatureRows(file, COLUMNS, { column: 'label', required: false }),
      /7 bad rows:[^]*many\.csv:6:[^]*… and 2 more/,
    );
  });
});

describe('rows given in memory', () => {
  it('by column name, or in column order', () => {
    const got = featureRowsOf([{ b: 2, a: 1 }, [3, 4]], COLUMNS);
    assert.deepEqual(Array.from(got.rows.data), [1, 2, 3, 4]);
    assert.deepEqual(got.names, ['row 0', 'row 1']);
  });
  const refused = [
    { name: 'a missing column', rows: [{ a: 1 }], message: /row 0: no column `b`/ },
    { name: 'too few values', rows: [[1]], message: /row 0: 1 values, the model reads 2 columns/ },
    {
      name: 'a value that is not finite',
      rows: [
        [1, 2],
        [1, Number.NaN],
      ],
      message: /row 1: column `b` is not a finite number/,
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      assert.throws(() => featureRowsOf(c.rows, COLUMNS), c.message);
    });
  }
});
