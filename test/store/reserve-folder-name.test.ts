import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { reserveFolderName } from '../../src/store/run-folder.js';

/** Runs and sweeps are numbered by one function; a clone of a repository that keeps runs in git has their folders but no .ids. */
describe('reserveFolderName numbers after every folder already there', () => {
  const parent = (): string => mkdtempSync(path.join(tmpdir(), 'tlpipe-ids-'));

  it('.ids missing, 0001 and 0003 there: 0004', async () => {
    const dir = parent();
    mkdirSync(path.join(dir, '0001-aaaaaaaa'));
    mkdirSync(path.join(dir, '0003-bbbbbbbb'));
    assert.equal(await reserveFolderName(dir, 'cccccccc99'), '0004-cccccccc');
    assert.deepEqual(readdirSync(path.join(dir, '.ids')), ['0004']);
  });

  it('.ids behind the folders (a run copied in by hand): still after the folders', async () => {
    const dir = parent();
    mkdirSync(path.join(dir, '.ids', '0002'), { recursive: true });
    mkdirSync(path.join(dir, '0007-aaaaaaaa'));
    assert.equal(await reserveFolderName(dir, 'dddddddd'), '0008-dddddddd');
  });

  it('two at once with no .ids: two numbers', async () => {
    const dir = parent();
    mkdirSync(path.join(dir, '0001-aaaaaaaa'));
    const names = await Promise.all([reserveFolderName(dir, 'eeeeeeee'), reserveFolderName(dir, 'ffffffff')]);
    assert.deepEqual(names.map((n) => n.slice(0, 4)).sort(), ['0002', '0003']);
  });

  it('.ids a file: a user error naming it', async () => {
    const dir = parent();
    writeFileSync(path.join(dir, '.ids'), '');
    await assert.rejects(
      reserveFolderName(dir, 'aaaaaaaa'),
      (error: Error) => error instanceof UserError && /\.ids is not a folder/.test(error.message),
    );
  });
});
