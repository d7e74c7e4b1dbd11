import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CsvParser, parseCsv, parseCsvBytes } from '../../../src/engine/data/csv.js';
import { readDataset } from '../../../src/engine/data/datasets.js';
import type { DatasetSpec } from '../../../src/format/types.js';
import { workspace, writeDigitImageFolder } from '../../e2e/cli-harness.js';

describe('parseCsv', () => {
  const cases: { name: string; text: string; records: [number, string[]][] }[] = [
    {
      name: 'plain rows',
      text: 'a,b\n1,2\n',
      records: [
        [1, ['a', 'b']],
        [2, ['1', '2']],
      ],
    },
    {
      name: 'CRLF and no final newline',
      text: 'a,b\r\n1,2',
      records: [
        [1, ['a', 'b']],
        [2, ['1', '2']],
      ],
    },
    {
      name: 'quotes, commas and doubled quotes',
      text: 'a,b\n"x, y","say ""hi"""\n',
      records: [
        [1, ['a', 'b']],
        [2, ['x, y', 'say "hi"']],
      ],
    },
    {
      name: 'a quoted field across lines keeps line numbers right',
      text: 'a,b\n"two\nlines",1\nz,2\n',
      records: [
        [1, ['a', 'b']],
        [2, ['two\nlines', '1']],
        [4, ['z', '2']],
      ],
    },
    {
      name: 'blank lines and a BOM',
      text: '\ufeffa,b\n\n1,2\n\n',
      records: [
        [1, ['a', 'b']],
        [3, ['1', '2']],
      ],
    },
    {
      name: 'empty fields',
      text: 'a,b,c\n,,\n',
      records: [
        [1, ['a', 'b', 'c']],
        [2, ['', '', '']],
      ],
    },
  ];
  for (const c of cases)
    it(c.name, () =>
      assert.deepEqual(
        parseCsv(c.text).map((r) => [r.line, r.fields]),
        c.records,
      ),
    );

  const bad: { name: string; text: string; message: RegExp; line: number }[] = [
    { name: 'an unclosed quote', text: 'a,b\n1,"oops\n', message: /never closed/, line: 2 },
    { name: 'a stray quote', text: 'a,b\n1,x"y\n', message: /quote inside an unquoted field/, line: 2 },
  ];
  for (const c of bad)
    it(`rejects ${c.name}`, () =>
      assert.throws(
        () => parseCsv(c.text),
        (e: Error & { line: number }) => c.message.test(e.message) && e.line === c.line,
      ));
  // The parser takes text in pieces: a quote, a doubled quote, CR and LF may fall at any boundary.
  const tricky = 'a,b\r\n"q ""x"", y","two\r\nlines"\r\n\r\nz,""""\r\nlast,"end"';
  it('gives the same records whatever the pieces the text comes in', () => {
    const whole = parseCsv(tricky);
    assert.deepEqual(
      whole.map((r) => [r.line, r.fields]),
      [
        [1, ['a', 'b']],
        [2, ['q "x", y', 'two\r\nlines']],
        [5, ['z', '"']],
        [6, ['last', 'end']],
      ],
    );
    for (let at = 0; at <= tricky.length; at++) {
      const parser = new CsvParser();
      parser.push(tricky.slice(0, at));
      parser.push(tricky.slice(at));
      assert.deepEqual(parser.end(), whole, `split at ${at}`);
    }
    const byChar = new CsvParser();
    for (const c of tricky) byChar.push(c);
    assert.deepEqual(byChar.end(), whole);
    for (const c of cases) {
      const parser = new CsvParser();
      for (const ch of c.text) parser.push(ch);
      assert.deepEqual(
        parser.end().map((r) => [r.line, r.fields]),
        c.records,
        c.name,
      );
    }
  });

  it('parses bytes a megabyte at a time, a character of several bytes across the boundary', () => {
    const text = `path,label\n${'img.png,é€𝄞\n'.repeat(120_000)}`;
    const bytes = Buffer.from(text, 'utf8');
    assert.ok(bytes.length > 2 ** 21);
    assert.deepEqual(parseCsvBytes(bytes), parseCsv(text));
  });

  const limits = { fieldChars: 10, fieldsPerRecord: 4 };
  const oversize: { name: string; text: string; message: RegExp; line: number }[] = [
    {
      name: 'a field past the bound',
      text: 'a,b\n1,2\nx,12345678901\n',
      message: /a field longer than 10 characters/,
      line: 3,
    },
    {
      name: 'a quoted field past the bound, across lines',
      text: 'a,b\n"1\n2\n3\n4\n5\n6",x\n',
      message: /a field longer than 10 characters/,
      line: 2,
    },
    {
      name: 'a record of too many fields',
      text: 'a,b\n1,2,3,4,5\n',
      message: /a record of more than 4 fields/,
      line: 2,
    },
  ];
  for (const c of oversize) {
    it(`refuses ${c.name}, at its line, as it parses`, () => {
      assert.throws(
        () => parseCsv(c.text, limits),
        (e: Error & { line: number }) => c.message.test(e.message) && e.line === c.line,
      );
      assert.throws(
        () => parseCsvBytes(Buffer.from(c.text), limits),
        (e: Error & { line: number }) => c.message.test(e.message) && e.line === c.line,
      );
    });
  }
  it('stops at the bound of a field, not at the end of it', () => {
    const parser = new CsvParser({ fieldChars: 1000, fieldsPerRecord: 10 });
    parser.push('a,b\n1,');
    let pushed = 0;
    assert.throws(() => {
      for (; pushed < 100_000; pushed++) parser.push('x'.repeat(100));
    }, /a field longer than 1000 characters/);
    assert.ok(pushed <= 10, `${pushed} pieces read before the refusal`);
  });
});

describe('readDataset for a CSV of image paths', () => {
  const spec = (
    file: string,
    extra: Partial<Extract<DatasetSpec, { format: 'csv' }>> = {},
  ): Extract<DatasetSpec, { format: 'csv' }> => ({
    format: 'csv',
    file,
    labelColumn: 'label',
    imageColumn: 'path',
    limit: {},
    validation: 0,
    testFraction: 0,
    onBadFile: 'error',
    image: { size: [32, 32], channels: 3, fit: 'cover' },
    ...extra,
  });

  async function csvOfDigits(extraRows: string[] = []): Promise<{ file: string; dir: string }> {
    const dir = workspace('csv');
    const files = await writeDigitImageFolder(path.join(dir, 'img'), 3);
    const rows = files.map(
      (f) =>
        `${path.relative(dir, f)},${path.basename(path.dirname(f)) === 'more' ? path.basename(path.dirname(path.dirname(f))) : path.basename(path.dirname(f))}`,
    );
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
    {
      name: 'a row with a missing label',
      row: 'img/one/x.png,',
      reason: /labels.csv:11: missing label \(column `label`\)/,
    },
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
    await assert.rejects(
      readDataset(spec(file, { labelColumn: 'class' })),
      /no column named `class`; the header has `path`, `label`/,
    );
  });
});
