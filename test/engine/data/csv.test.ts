import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseCsv } from '../../../src/engine/data/csv.js';
import { readDataset } from '../../../src/engine/data/datasets.js';
import type { DatasetSpec } from '../../../src/format/types.js';
import { workspace, writeDigitImageFolder } from '../../e2e/cli-harness.js';

describe('parseCsv', () => {
  const cases: { name: string; text: string; records: [number, string[]][] }[] = [
    { name: 'plain rows', text: 'a,b\n1,2\n', records: [[1, ['a', 'b']], [2, ['1', '2']]] },
    { name: 'CRLF and no final newline', text: 'a,b\r\n1,2', records: [[1, ['a', 'b']], [2, ['1', '2']]] },
    { name: 'quotes, commas and doubled quotes', text: 'a,b\n"x, y","say ""hi"""\n', records: [[1, ['a', 'b']], [2, ['x, y', 'say "hi"']]] },
    { name: 'a quoted field across lines keeps line numbers right', text: 'a,b\n"two\nlines",1\nz,2\n', records: [[1, ['a', 'b']], [2, ['two\nlines', '1']], [4, ['z', '2']]] },
    { name: 'blank lines and a BOM', text: '\ufeffa,b\n\n1,2\n\n', records: [[1, ['a', 'b']], [3, ['1', '2']]] },
    { name: 'empty fields', text: 'a,b,c\n,,\n', records: [[1, ['a', 'b', 'c']], [2, ['', '', '']]] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseCsv(c.text).map((r) => [r.line, r.fields]), c.records));

  const bad: { name: string; text: string; message: RegExp; line: number }[] = [
    { name: 'an unclosed quote', text: 'a,b\n1,"oops\n', message: /never closed/, line: 2 },
    { name: 'a stray quote', text: 'a,b\n1,x"y\n', message: /quote inside an unquoted field/, line: 2 },
  ];
  for (const c of bad) it(`rejects ${c.name}`, () => assert.throws(() => parseCsv(c.text), (e: Error & { line: number }) => c.message.test(e.message) && e.line === c.line));
});

describe('readDataset for a CSV of image paths', () => {
  const spec = (file: string, extra: Partial<Extract<DatasetSpec, { format: 'csv' }>> = {}): Extract<DatasetSpec, { format: 'csv' }> => ({
    format: 'csv', file, labelColumn: 'label', imageColumn: 'path', limit: {}, validation: 0, testFraction: 0, onBadFile: 'error',
    image: { size: [32, 32], channels: 3, fit: 'cover' }, ...extra,
  });

  async function csvOfDigits(extraRows: string[] = []): Promise<{ file: string; dir: string }> {
    const dir = workspace('csv');
    const files = await writeDigitImageFolder(path.join(dir, 'img'), 3);
    const rows = files.map((f) => `${path.relative(dir, f)},${path.basename(path.dirname(f)) === 'more' ? path.basename(path.dirname(path.dirname(f))) : path.basename(path.dirname(f))}`);
    const file = path.join(dir, 'labels.csv');
    writeFileSync(file, ['path,label', ...rows, ...extraRows].join('\n') + '\n');
    return { file, dir };
  }

  it('reads images relative to the CSV, classes sorted', async () => {
    const { file } = await csvOfDigits();
    const d = await readDataset(spec(file));
    assert.deepEqual(d.classNames, ['one', 'seven', 'zero']);
    assert.equal(d.train.count, 9);
    assert.equal((await d.train.pixels([0])).data.length, 32 * 32 * 3);
  });

  const badRows: { name: string; row: string; reason: RegExp }[] = [
    { name: 'a row with a missing label', row: 'img/one/x.png,', reason: /labels.csv:11: missing label \(column `label`\)/ },
    { name: 'a row with too few fields', row: 'img/one/x.png', reason: /labels.csv:11: 1 fields, the header has 2/ },
    { name: 'a row whose image does not exist', row: 'img/none.png,one', reason: /none.png: not found/ },
  ];
  for (const c of badRows) {
    it(`names ${c.name} before training, or skips it with onBadFile: skip`, async () => {
      const { file } = await csvOfDigits([c.row]);
      await assert.rejects(readDataset(spec(file)), c.reason);
      const skipped = await readDataset(spec(file, { onBadFile: 'skip' }));
      assert.equal(skipped.train.count, 9);
      assert.equal(skipped.skipped.length, 1);
    });
  }

  it('a missing column is named with the header it has', async () => {
    const { file } = await csvOfDigits();
    await assert.rejects(readDataset(spec(file, { labelColumn: 'class' })), /no column named `class`; the header has `path`, `label`/);
  });
});
