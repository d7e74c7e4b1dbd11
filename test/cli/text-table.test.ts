import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitColumns, wrapParagraph, wrapText } from '../../src/cli/text-table.js';

describe('text that fits a terminal', () => {
  const cases: { name: string; text: string; width: number; lines: string[] }[] = [
    { name: 'short text is one line', text: 'a b c', width: 10, lines: ['a b c'] },
    {
      name: 'wraps at the last space that fits',
      text: 'one two three four',
      width: 9,
      lines: ['one two', 'three', 'four'],
    },
    {
      name: 'a word longer than the width stays whole',
      text: 'a https://example.com/very/long b',
      width: 8,
      lines: ['a', 'https://example.com/very/long', 'b'],
    },
    { name: 'exactly the width fits', text: 'abcd efgh', width: 9, lines: ['abcd efgh'] },
  ];
  for (const c of cases) it(`wrapText: ${c.name}`, () => assert.deepEqual(wrapText(c.text, c.width), c.lines));

  it('wrapParagraph keeps the indentation and hangs the rest two deeper', () => {
    assert.deepEqual(wrapParagraph('  key: one two three four five', 16), [
      '  key: one two',
      '    three four',
      '    five',
    ]);
  });

  it('fitColumns wraps the last column under itself, within the width', () => {
    const lines = fitColumns(
      [
        ['task', 'what'],
        ['data', 'mnist: 80 train / 20 validation / 40 test, 10 classes'],
        ['base', 'mobilenet'],
      ],
      30,
    );
    assert.deepEqual(lines, [
      'task  what',
      'data  mnist: 80 train / 20',
      '      validation / 40 test, 10',
      '      classes',
      'base  mobilenet',
    ]);
    assert.ok(lines.every((l) => l.length <= 30));
  });
});
