import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { writeFileAtomic, writeJsonAtomic } from '../../src/store/atomic-write.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-atomic-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const folder = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  return dir;
};

describe('writeFileAtomic', () => {
  const cases: { name: string; before?: string; file: string; data: string | Uint8Array; read: string }[] = [
    { name: 'a new file', file: 'a.txt', data: 'hello\n', read: 'hello\n' },
    {
      name: 'replaces a longer file whole (no tail of the old content)',
      before: 'old content, longer',
      file: 'a.txt',
      data: 'new',
      read: 'new',
    },
    { name: 'bytes', file: 'w.bin', data: Uint8Array.from([0, 255, 10]), read: '\u0000\ufffd\n' },
    { name: 'into folders that do not exist yet', file: 'checkpoints/epoch-001/x.json', data: '{}', read: '{}' },
  ];
  for (const c of cases) {
    it(`${c.name}, leaving no temporary file`, async () => {
      const dir = folder();
      if (c.before !== undefined) writeFileSync(path.join(dir, c.file), c.before);
      await writeFileAtomic(path.join(dir, c.file), c.data);
      assert.equal(readFileSync(path.join(dir, c.file), 'utf8'), c.read);
      assert.deepEqual(readdirSync(path.dirname(path.join(dir, c.file))), [path.basename(c.file)]);
    });
  }

  it('a folder where the file goes: the error names the file meant, and no temporary file is left', async () => {
    const dir = folder();
    mkdirSync(path.join(dir, 'report.html'));
    writeFileSync(path.join(dir, 'report.html', 'inside'), 'x');
    await assert.rejects(
      writeFileAtomic(path.join(dir, 'report.html'), 'page'),
      (error: NodeJS.ErrnoException) =>
        error.path === path.join(dir, 'report.html') && /^E(ISDIR|NOTEMPTY|EXIST)$/.test(error.code ?? ''),
    );
    assert.deepEqual(readdirSync(dir), ['report.html']);
  });

  it('writeJsonAtomic: indented by two, one newline at the end', async () => {
    const file = path.join(folder(), 'v.json');
    await writeJsonAtomic(file, { a: [1, 2], b: 'x' });
    assert.equal(readFileSync(file, 'utf8'), '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "x"\n}\n');
  });
});
