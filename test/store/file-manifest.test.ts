import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { MANIFEST_FILE, readVerifiedFiles, writeFolderManifest } from '../../src/store/file-manifest.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-manifest-'));
after(() => rmSync(root, { recursive: true, force: true }));

let made = 0;
/** A folder of two files with its manifest; `damage` then changes it. */
async function folder(damage: (dir: string) => void): Promise<string> {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(Array.from({ length: 64 }, (_, i) => i)));
  writeFileSync(path.join(dir, 'meta.json'), '{"shape":[4,4]}\n');
  await writeFolderManifest(dir);
  damage(dir);
  return dir;
}

const flip = (file: string, at: number): void => {
  const bytes = readFileSync(file);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(file, bytes);
};

describe('folder manifests', () => {
  it('an untouched folder verifies and returns the bytes it checked', async () => {
    const dir = await folder(() => undefined);
    const result = await readVerifiedFiles(dir, ['weights.bin', 'meta.json']);
    assert.ok(result.ok);
    assert.equal(result.files.get('meta.json')!.toString(), '{"shape":[4,4]}\n');
    assert.deepEqual(Object.keys(result.manifest.files).sort(), ['meta.json', 'weights.bin']);
  });

  const damaged: { name: string; damage: (dir: string) => void; problem: RegExp }[] = [
    {
      name: 'one flipped bit in the data',
      damage: (d) => flip(path.join(d, 'weights.bin'), 17),
      problem: /weights\.bin does not match the sha256/,
    },
    {
      name: 'an edited metadata file of the same length',
      damage: (d) => writeFileSync(path.join(d, 'meta.json'), '{"shape":[4,5]}\n'),
      problem: /meta\.json does not match the sha256/,
    },
    {
      name: 'a truncated file',
      damage: (d) => truncateSync(path.join(d, 'weights.bin'), 32),
      problem: /weights\.bin has 32 bytes, 64 when it was written/,
    },
    {
      name: 'a file that grew',
      damage: (d) => writeFileSync(path.join(d, 'meta.json'), '{"shape":[4,4]}\n\n'),
      problem: /meta\.json is 17 bytes, more than the 16/,
    },
    {
      name: 'a missing file',
      damage: (d) => unlinkSync(path.join(d, 'weights.bin')),
      problem: /weights\.bin is missing/,
    },
    {
      name: 'a file replaced by a link to /dev/zero',
      damage: (d) => {
        unlinkSync(path.join(d, 'weights.bin'));
        symlinkSync('/dev/zero', path.join(d, 'weights.bin'));
      },
      problem: /leads outside/,
    },
    {
      name: 'no manifest',
      damage: (d) => unlinkSync(path.join(d, MANIFEST_FILE)),
      problem: /manifest\.json is missing/,
    },
    {
      name: 'a manifest that is not JSON',
      damage: (d) => writeFileSync(path.join(d, MANIFEST_FILE), '{'),
      problem: /manifest\.json is damaged/,
    },
    {
      name: 'a manifest naming a path outside',
      damage: (d) =>
        writeFileSync(
          path.join(d, MANIFEST_FILE),
          JSON.stringify({ formatVersion: 1, files: { '../x': { bytes: 1, sha256: '0'.repeat(64) } } }),
        ),
      problem: /manifest\.json is damaged/,
    },
    {
      name: 'a manifest with a negative size',
      damage: (d) =>
        writeFileSync(
          path.join(d, MANIFEST_FILE),
          JSON.stringify({ formatVersion: 1, files: { 'weights.bin': { bytes: -1, sha256: '0'.repeat(64) } } }),
        ),
      problem: /manifest\.json is damaged/,
    },
    {
      name: 'a file the manifest does not list',
      damage: (d) => writeFileSync(path.join(d, MANIFEST_FILE), JSON.stringify({ formatVersion: 1, files: {} })),
      problem: /weights\.bin is not listed/,
    },
  ];
  for (const c of damaged) {
    it(`finds ${c.name}`, async () => {
      const dir = await folder(c.damage);
      const result = await readVerifiedFiles(dir, ['weights.bin', 'meta.json']);
      assert.equal(result.ok, false);
      assert.match((result as { problem: string }).problem, c.problem);
    });
  }
});
