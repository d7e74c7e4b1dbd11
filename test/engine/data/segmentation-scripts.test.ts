import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readSegmentationFolderDataset } from '../../../src/engine/data/segmentation-folder.js';
import { workspace } from '../../e2e/cli-harness.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const DIGIT_SCRIPT = fileURLToPath(new URL('../../../scripts/make-digit-canvases.js', import.meta.url));
const MOSAIC_SCRIPT = path.join(ROOT, 'scripts', 'make-texture-mosaics.py');
/** Debian's python3-skimage is for the system python; a pyenv python on PATH may not see it. */
const PYTHON = '/usr/bin/python3';

function skimageMissing(): string | false {
  try {
    execFileSync(PYTHON, ['-c', 'import skimage.data'], { stdio: 'ignore', timeout: 60_000 });
    return false;
  } catch {
    return `${PYTHON} cannot import skimage (Debian: apt-get install python3-skimage)`;
  }
}

/** Every file of a folder tree, relative path → bytes. */
const filesOf = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.includes('.'))
      .sort()
      .map((f) => [f, readFileSync(path.join(dir, f)).toString('base64')]),
  );

async function readMade(dir: string, size: number) {
  const classes = readFileSync(path.join(dir, 'classes.txt'), 'utf8').trim().split('\n');
  return readSegmentationFolderDataset(
    {
      format: 'segmentationFolder',
      images: path.join(dir, 'images'),
      masks: path.join(dir, 'masks'),
      classes,
      limit: {},
      validation: 0,
      testFraction: 0,
      onBadFile: 'error',
      image: { size: [size, size], channels: 3, fit: 'fill' },
    },
    { seed: 1, cacheBytes: 2 ** 24 },
  );
}

describe('the fixture scripts make datasets the reader takes', () => {
  it('make-digit-canvases: the same seed makes the same files; digits are classes 1–10 over ink', { timeout: 120_000 }, async () => {
    const [a, b] = [path.join(workspace('digits'), 'out'), path.join(workspace('digits'), 'out')];
    for (const out of [a, b]) await run(process.execPath, [DIGIT_SCRIPT, out, '--count', '3', '--size', '32', '--seed', '4']);
    assert.deepEqual(filesOf(a), filesOf(b));
    const data = await readMade(a, 32);
    assert.deepEqual(data.classNames.slice(0, 3), ['background', 'zero', 'one']);
    assert.equal(data.numClasses, 11);
    assert.equal(data.train.count, 3);
    const masks = await data.train.masks([0, 1, 2]);
    const pixels = await data.train.pixels([0, 1, 2]);
    let digit = 0;
    for (let p = 0; p < masks.data.length; p++)
      if (masks.data[p]! > 0) {
        digit++;
        assert.ok(pixels.data[p * 3]! >= 128, `ink under digit pixel ${p}`);
      }
    assert.ok(digit > 0, 'some digit pixels');
  });

  it('make-texture-mosaics: three textures, each image at least two, every pixel one', { timeout: 120_000 }, async (t) => {
    const missing = skimageMissing();
    if (missing) return t.skip(missing);
    const out = path.join(workspace('mosaics'), 'out');
    await run(PYTHON, [MOSAIC_SCRIPT, out, '--count', '4', '--size', '32', '--seed', '3', '--regions', 'rectangles']);
    const data = await readMade(out, 32);
    assert.deepEqual(data.classNames, ['brick', 'grass', 'gravel']);
    assert.equal(data.train.count, 4);
    const masks = await data.train.masks([0, 1, 2, 3]);
    for (let i = 0; i < 4; i++)
      assert.ok(new Set(masks.data.subarray(i * 1024, (i + 1) * 1024)).size >= 2, `image ${i} has two classes or more`);
    assert.equal(data.pixelCounts.train.perClass.reduce((x, y) => x + y, 0), 4 * 32 * 32);
  });

  it('make-texture-mosaics refuses a photo that is not bundled, and names those that are', { timeout: 120_000 }, async (t) => {
    const missing = skimageMissing();
    if (missing) return t.skip(missing);
    const out = path.join(workspace('mosaics'), 'out');
    await assert.rejects(run(PYTHON, [MOSAIC_SCRIPT, out, '--textures', 'brick,eagle']), (error: Error & { stderr: string }) => {
      assert.match(error.stderr, /texture 'eagle' is not bundled for offline use; choose from: brick, grass, gravel/);
      return true;
    });
  });
});
