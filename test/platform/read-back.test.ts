import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { confinedPath, readBackFile, readBackIfPresent, readBackJson } from '../../src/platform/read-back.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-read-back-'));
const folder = path.join(root, 'run');
mkdirSync(path.join(folder, 'sub'), { recursive: true });
writeFileSync(path.join(root, 'outside.json'), '{"secret":1}');
writeFileSync(path.join(folder, 'ok.json'), '{"a":1}');
writeFileSync(path.join(folder, 'sub', 'inner.json'), '[1]');
writeFileSync(path.join(folder, 'bad.json'), '{"a":');
symlinkSync(path.join(root, 'outside.json'), path.join(folder, 'escape.json'));
symlinkSync('/dev/zero', path.join(folder, 'zero.bin'));
symlinkSync(path.join(folder, 'ok.json'), path.join(folder, 'inside-link.json'));
execFileSync('mkfifo', [path.join(folder, 'fifo.json')]);
writeFileSync(path.join(folder, 'sparse.bin'), '');
truncateSync(path.join(folder, 'sparse.bin'), 2 ** 31);
after(() => rmSync(root, { recursive: true, force: true }));

describe('readBackFile: confined, regular, bounded', () => {
  const refused: { name: string; relative: string; message: RegExp; maxBytes?: number }[] = [
    { name: 'a parent path', relative: '../outside.json', message: /leads outside/ },
    { name: 'a deep parent path', relative: 'sub/../../outside.json', message: /leads outside/ },
    { name: 'an absolute path', relative: path.join(root, 'outside.json'), message: /not a relative path/ },
    { name: 'a NUL byte', relative: 'ok.json\0.txt', message: /not a relative path/ },
    { name: 'an empty path', relative: '', message: /not a relative path/ },
    { name: 'a link leading outside', relative: 'escape.json', message: /link that leads outside/ },
    { name: 'a link to /dev/zero', relative: 'zero.bin', message: /link that leads outside/ },
    { name: 'a FIFO', relative: 'fifo.json', message: /named pipe \(FIFO\), not a file/ },
    { name: 'a folder', relative: 'sub', message: /a folder, not a file/ },
    { name: 'a file over its bound', relative: 'sparse.bin', message: /more than the/ },
    { name: 'a file over a given bound', relative: 'ok.json', maxBytes: 3, message: /7 bytes, more than the 3/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, async () => {
      await assert.rejects(
        readBackFile(folder, c.relative, { what: 'test file', ...(c.maxBytes ? { maxBytes: c.maxBytes } : {}) }),
        (error: unknown) => error instanceof UserError && c.message.test(error.message),
      );
    });
  }

  it('reads a file, one under a sub-folder, and a link that stays inside', async () => {
    assert.equal((await readBackFile(folder, 'ok.json')).toString(), '{"a":1}');
    assert.equal((await readBackFile(folder, 'sub/inner.json')).toString(), '[1]');
    assert.equal((await readBackFile(folder, 'inside-link.json')).toString(), '{"a":1}');
  });

  it('tells a missing file (ENOENT, or undefined) from a damaged one', async () => {
    await assert.rejects(readBackFile(folder, 'absent.json'), { code: 'ENOENT' });
    assert.equal(await readBackIfPresent(folder, 'absent.json'), undefined);
    await assert.rejects(readBackIfPresent(folder, 'fifo.json'), UserError);
  });

  it('parses JSON and says which file is not', async () => {
    assert.deepEqual(await readBackJson(folder, 'ok.json'), { a: 1 });
    await assert.rejects(
      readBackJson(folder, 'bad.json', { what: 'summary' }),
      /summary .*bad\.json is not valid JSON/,
    );
  });

  it('confinedPath keeps names inside the folder', () => {
    assert.equal(confinedPath(folder, 'sub/inner.json'), path.join(folder, 'sub', 'inner.json'));
    assert.throws(() => confinedPath(folder, '../../etc/passwd'), /leads outside/);
  });
});
