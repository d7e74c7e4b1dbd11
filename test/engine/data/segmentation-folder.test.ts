import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  readSegmentationFolderDataset,
  type SegmentationFolderSpec,
} from '../../../src/engine/data/segmentation-folder.js';
import { workspace } from '../../e2e/cli-harness.js';

/** Made by scripts/make-texture-mosaics.py (8 JPEG mosaics, 64×64) and scripts/make-digit-canvases.ts (8 canvases, 48×48). */
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/segmentation/', import.meta.url));
const TEXTURES = path.join(FIXTURES, 'textures');
const DIGITS = path.join(FIXTURES, 'digits');
const classesOf = (dir: string): string[] => readFileSync(path.join(dir, 'classes.txt'), 'utf8').trim().split('\n');

function spec(dir: string, extra: Partial<SegmentationFolderSpec> = {}): SegmentationFolderSpec {
  return {
    format: 'segmentationFolder',
    images: path.join(dir, 'images'),
    masks: path.join(dir, 'masks'),
    classes: classesOf(dir),
    limit: {},
    validation: 0.25,
    testFraction: 0.25,
    onBadFile: 'error',
    image: { size: [64, 64], channels: 3, fit: 'fill' },
    ...extra,
  };
}

const read = (s: SegmentationFolderSpec, seed = 1, cacheBytes = 2 ** 26) =>
  readSegmentationFolderDataset(s, { seed, cacheBytes });

/** The mask file's own values (gray PNG) at its own size. */
async function maskFile(file: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(file).extractChannel(0).raw().toBuffer());
}

/** A copy of a fixture in a fresh folder, to break. */
function copyOf(dir: string): string {
  const copy = path.join(workspace('seg'), 'data');
  cpSync(dir, copy, { recursive: true });
  return copy;
}

/** A 1-bit grayscale PNG (colour type 0, bit depth 1), written by hand: sharp writes no such file. */
function oneBitPng(width: number, height: number, on: (x: number, y: number) => boolean): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'ascii'), data])));
    return Buffer.concat([length, Buffer.from(type, 'ascii'), data, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // grayscale
  const stride = Math.ceil(width / 8);
  const rows = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) if (on(x, y)) rows[y * (stride + 1) + 1 + (x >> 3)]! |= 0x80 >> (x & 7);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const grayPng = (width: number, height: number, values: Uint8Array | number[]): Promise<Buffer> =>
  sharp(Uint8Array.from(values), { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toBuffer();

describe('readSegmentationFolderDataset on the texture mosaics (JPEG images, PNG masks)', () => {
  it('pairs every image with its mask, splits 8 images 2 test / 2 validation / 4 train and counts every pixel', async () => {
    const data = await read(spec(TEXTURES));
    assert.deepEqual(data.classNames, ['brick', 'grass', 'gravel']);
    assert.equal(data.numClasses, 3);
    assert.equal(data.train.count, 8);
    assert.deepEqual(
      [data.selection.train.length, data.selection.validation.length, data.selection.test.length],
      [4, 2, 2],
    );
    assert.equal(data.storage, 'memory');
    assert.deepEqual(data.skipped, []);
    for (const split of ['train', 'validation', 'test'] as const) {
      const counts = data.pixelCounts[split];
      assert.equal(counts.perClass.length, 3);
      assert.equal(
        counts.perClass.reduce((a, b) => a + b, 0) + counts.ignored,
        data.selection[split].length * 64 * 64,
        `${split}: every pixel counted once`,
      );
    }
    assert.ok(data.pixelCounts.train.perClass.every((n) => n > 0), 'each texture appears in training');
  });

  it('returns the mask files’ values unchanged at their own size, and masks beside their pixels', async () => {
    const data = await read(spec(TEXTURES));
    const batch = await data.train.masks([0, 5]);
    assert.deepEqual([batch.count, batch.height, batch.width], [2, 64, 64]);
    assert.deepEqual(batch.data.subarray(0, 4096), await maskFile(data.train.maskName(0)));
    assert.deepEqual(batch.data.subarray(4096), await maskFile(data.train.maskName(5)));
    assert.equal(path.basename(data.train.maskName(5)), path.basename(data.train.name(5)).replace('.jpg', '.png'));
    const pixels = await data.train.pixels([0, 5]);
    assert.equal(pixels.data.length, 2 * 64 * 64 * 3);
  });

  it('decodes the same pixels and masks when streaming as when held in memory', async () => {
    const held = await read(spec(TEXTURES, { image: { size: [40, 40], channels: 3, fit: 'cover' } }));
    const streamed = await read(spec(TEXTURES, { image: { size: [40, 40], channels: 3, fit: 'cover' } }), 1, 0);
    assert.equal(streamed.storage, 'streaming');
    assert.deepEqual((await streamed.train.masks([1, 2])).data, (await held.train.masks([1, 2])).data);
    assert.deepEqual((await streamed.train.pixels([1, 2])).data, (await held.train.pixels([1, 2])).data);
    const both = await streamed.train.pairs([1, 2]);
    assert.deepEqual(both.pixels.data, (await held.train.pixels([1, 2])).data);
    assert.deepEqual(both.masks.data, (await held.train.masks([1, 2])).data);
    assert.equal(streamed.digest, held.digest);
  });
});

describe('readSegmentationFolderDataset on the digit canvases', () => {
  it('resizes masks by nearest neighbour: only class values, digits where the ink is', async () => {
    const data = await read(spec(DIGITS, { image: { size: [32, 32], channels: 3, fit: 'fill' } }));
    assert.equal(data.numClasses, 11);
    const all = data.selection.train;
    const masks = await data.train.masks(all);
    const pixels = await data.train.pixels(all);
    let digitPixels = 0;
    let inkUnderDigits = 0;
    for (let p = 0; p < masks.data.length; p++) {
      assert.ok(masks.data[p]! <= 10, 'a class index');
      if (masks.data[p]! > 0) {
        digitPixels++;
        if (pixels.data[p * 3]! > 60) inkUnderDigits++;
      }
    }
    assert.ok(digitPixels > 0);
    assert.ok(inkUnderDigits / digitPixels > 0.9, `mask on ink: ${inkUnderDigits}/${digitPixels}`);
  });
});

describe('splits and limits', () => {
  const cases: { name: string; extra: Partial<SegmentationFolderSpec>; sizes: [number, number, number] }[] = [
    { name: 'limit.train bounds train + validation', extra: { limit: { train: 4 } }, sizes: [3, 1, 2] },
    { name: 'limit.test bounds the test split', extra: { limit: { test: 1 } }, sizes: [4, 2, 1] },
    { name: 'no test fraction, no validation', extra: { testFraction: 0, validation: 0 }, sizes: [8, 0, 0] },
    { name: 'validation: test holds nothing out of training', extra: { validation: 'test' }, sizes: [6, 0, 2] },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const { selection } = await read(spec(TEXTURES, c.extra));
      assert.deepEqual([selection.train.length, selection.validation.length, selection.test.length], c.sizes);
    });

  it('is seeded: the same seed selects the same images, another seed others', async () => {
    const a = await read(spec(TEXTURES), 1);
    const b = await read(spec(TEXTURES), 1);
    const c = await read(spec(TEXTURES), 2);
    assert.deepEqual(a.selection, b.selection);
    assert.notDeepEqual(a.selection, c.selection);
  });

  it('takes a separate test pair of folders', async () => {
    const data = await read(
      spec(TEXTURES, { testImages: path.join(DIGITS, 'images'), testMasks: path.join(DIGITS, 'masks'), classes: classesOf(DIGITS) }),
    );
    assert.equal(data.test?.count, 8);
    assert.deepEqual(data.selection.test, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(data.selection.train.length + data.selection.validation.length, 8);
  });
});

describe('the digest', () => {
  it('survives moving the dataset and changes with one mask pixel', async () => {
    const dir = copyOf(TEXTURES);
    const before = (await read(spec(dir))).digest;
    const moved = path.join(path.dirname(dir), 'moved');
    renameSync(dir, moved);
    assert.equal((await read(spec(moved))).digest, before);
    const mask = path.join(moved, 'masks', '0003.png');
    const values = await maskFile(mask);
    values[0] = values[0] === 0 ? 1 : 0;
    writeFileSync(mask, await grayPng(64, 64, values));
    assert.notEqual((await read(spec(moved))).digest, before);
  });
});

describe('alignment when the fit crops or pads', () => {
  // A 40×20 image, its left half white over class 1, its right half black over class 0.
  async function halves(): Promise<string> {
    const dir = path.join(workspace('seg-fit'), 'data');
    mkdirSync(path.join(dir, 'images'), { recursive: true });
    mkdirSync(path.join(dir, 'masks'));
    writeFileSync(path.join(dir, 'classes.txt'), 'background\nwhite\n');
    for (const name of ['a', 'b']) {
      const mask = Array.from({ length: 40 * 20 }, (_, p) => (p % 40 < 20 ? 1 : 0));
      writeFileSync(path.join(dir, 'images', `${name}.png`), await grayPng(40, 20, mask.map((v) => v * 255)));
      writeFileSync(path.join(dir, 'masks', `${name}.png`), await grayPng(40, 20, mask));
    }
    return dir;
  }
  const fits: { fit: 'fill' | 'cover' | 'contain'; ignoreIndex?: number }[] = [
    { fit: 'fill' },
    { fit: 'cover' },
    { fit: 'contain', ignoreIndex: 255 },
  ];
  for (const { fit, ignoreIndex } of fits)
    it(`${fit}: the mask stays on its image${ignoreIndex ? ', padding is ignoreIndex' : ''}`, async () => {
      const dir = await halves();
      const data = await read(
        spec(dir, {
          image: { size: [16, 16], channels: 3, fit },
          testFraction: 0,
          validation: 0,
          ...(ignoreIndex ? { ignoreIndex } : {}),
        }),
      );
      const masks = (await data.train.masks([0])).data;
      const pixels = (await data.train.pixels([0])).data;
      for (let p = 0; p < 256; p++) {
        if (masks[p] === 255) assert.equal(pixels[p * 3], 0, 'padding is black in the image');
        else assert.equal(masks[p], pixels[p * 3]! > 127 ? 1 : 0, `pixel ${p}`);
      }
      if (fit === 'contain') assert.equal(data.pixelCounts.train.ignored, 2 * 16 * 8, 'half of each square is padding');
      else assert.equal(data.pixelCounts.train.ignored, 0);
    });
});

describe('bad and foreign files', () => {
  const bad: { name: string; breakIt: (dir: string) => Promise<void>; file: string; message: RegExp }[] = [
    {
      name: 'an image without a mask',
      breakIt: async (dir) => rmSync(path.join(dir, 'masks', '0002.png')),
      file: 'masks/0002.png',
      message: /no mask for .*images\/0002\.jpg/,
    },
    {
      name: 'a mask of another size than its image',
      breakIt: async (dir) => writeFileSync(path.join(dir, 'masks', '0002.png'), await grayPng(32, 64, new Uint8Array(32 * 64))),
      file: 'masks/0002.png',
      message: /the mask is 32×64, its image 0002\.jpg is 64×64/,
    },
    {
      name: 'a mask value that is no class',
      breakIt: async (dir) => {
        const values = new Uint8Array(64 * 64);
        values[64 * 3 + 5] = 7;
        writeFileSync(path.join(dir, 'masks', '0002.png'), await grayPng(64, 64, values));
      },
      file: 'masks/0002.png',
      message: /pixel \(5, 3\) is 7; expected a class index 0–2/,
    },
    {
      name: 'a colour mask',
      breakIt: async (dir) =>
        writeFileSync(
          path.join(dir, 'masks', '0002.png'),
          await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 1, g: 0, b: 0 } } }).png().toBuffer(),
        ),
      file: 'masks/0002.png',
      message: /is a colour, not a class index/,
    },
    {
      name: 'an image that cannot be decoded',
      breakIt: async (dir) => writeFileSync(path.join(dir, 'images', '0002.jpg'), 'not a jpeg'),
      file: 'images/0002.jpg',
      message: /images\/0002\.jpg: /,
    },
  ];
  for (const c of bad) {
    it(`${c.name}: an error naming the file with onBadFile: error`, async () => {
      const dir = copyOf(TEXTURES);
      await c.breakIt(dir);
      await assert.rejects(read(spec(dir)), (error: Error) => {
        assert.equal(error.name, 'UserError');
        assert.match(error.message, /1 image or mask file cannot be used/);
        assert.match(error.message, c.message);
        assert.ok(error.message.includes(path.join(dir, c.file)), error.message);
        return true;
      });
    });
    it(`${c.name}: left out and counted with onBadFile: skip`, async () => {
      const dir = copyOf(TEXTURES);
      await c.breakIt(dir);
      const data = await read(spec(dir, { onBadFile: 'skip', testFraction: 0, validation: 0 }));
      assert.deepEqual(
        data.skipped.map((s) => path.relative(dir, s.file)),
        [c.file],
      );
      assert.equal(data.selection.train.length, 7);
      assert.ok(!data.selection.train.some((i) => data.train.name(i).endsWith('0002.jpg')));
    });
  }

  it('reads a 1-bit PNG mask as 0 and 1 (libvips shows its 1 as 255)', async () => {
    const dir = copyOf(TEXTURES);
    writeFileSync(path.join(dir, 'masks', '0002.png'), oneBitPng(64, 64, (x, y) => x < 32 && y < 16));
    const data = await read(spec(dir, { testFraction: 0, validation: 0, limit: {} }));
    const index = data.selection.train.find((i) => data.train.name(i).endsWith('0002.jpg'))!;
    assert.deepEqual(data.train.pixelCounts([index]), [64 * 64 - 32 * 16, 32 * 16, 0, 0]);
  });

  it('counts only selected examples', async () => {
    const data = await read(spec(TEXTURES, { limit: { train: 2 }, testFraction: 0 }));
    const unselected = [...Array(8).keys()].find((i) => !data.selection.train.includes(i) && !data.selection.validation.includes(i))!;
    assert.throws(() => data.train.pixelCounts([unselected]), /was not selected, so its pixels were not counted/);
  });

  it('a mask value equal to ignoreIndex is counted apart, in no class', async () => {
    const dir = copyOf(TEXTURES);
    const values = new Uint8Array(64 * 64).fill(255, 0, 100);
    writeFileSync(path.join(dir, 'masks', '0002.png'), await grayPng(64, 64, values));
    const data = await read(spec(dir, { ignoreIndex: 255, testFraction: 0, validation: 0 }));
    assert.equal(data.pixelCounts.train.ignored, 100);
  });

  it('ignores hidden files, non-images, JPEG masks and masks with no image, and says why', async () => {
    const dir = copyOf(TEXTURES);
    writeFileSync(path.join(dir, 'images', '.DS_Store'), 'x');
    writeFileSync(path.join(dir, 'images', 'notes.txt'), 'x');
    writeFileSync(path.join(dir, 'masks', 'orphan.png'), await grayPng(2, 2, [0, 0, 0, 0]));
    cpSync(path.join(dir, 'images', '0001.jpg'), path.join(dir, 'masks', 'lossy.jpg'));
    const data = await read(spec(dir));
    assert.equal(data.train.count, 8);
    assert.deepEqual(Object.fromEntries(data.ignored.map((s) => [path.relative(dir, s.file), s.reason])), {
      'images/.DS_Store': 'hidden',
      'images/notes.txt': 'not an image',
      'masks/lossy.jpg': 'a mask must be a PNG (lossy formats change class values)',
      'masks/orphan.png': 'a mask with no image of the same name',
    });
  });

  const specErrors: {
    name: string;
    extra: (dir: string) => Partial<SegmentationFolderSpec>;
    message: RegExp;
    key: string[];
  }[] = [
    {
      name: 'a missing image folder',
      extra: (d) => ({ images: path.join(d, 'nowhere') }),
      message: /image folder .*nowhere: not found/,
      key: ['dataset', 'images'],
    },
    {
      name: 'a mask folder that is a file',
      extra: (d) => ({ masks: path.join(d, 'classes.txt') }),
      message: /mask folder .*classes\.txt: not a folder/,
      key: ['dataset', 'masks'],
    },
    {
      name: 'a missing test mask folder',
      extra: (d) => ({ testImages: path.join(d, 'images'), testMasks: path.join(d, 'nowhere') }),
      message: /mask folder .*nowhere: not found/,
      key: ['dataset', 'testMasks'],
    },
    {
      name: 'one class',
      extra: () => ({ classes: ['background'] }),
      message: /1 classes; segmentation needs 2 to 256/,
      key: ['dataset', 'classes'],
    },
    {
      // At the key that is written, where a diagnostic has a line to show.
      name: 'testImages without testMasks',
      extra: (d) => ({ testImages: d }),
      message: /testImages and testMasks go together/,
      key: ['dataset', 'testImages'],
    },
    {
      name: 'an ignoreIndex past a byte',
      extra: () => ({ ignoreIndex: 300 }),
      message: /ignoreIndex 300 is not a mask value/,
      key: ['dataset', 'ignoreIndex'],
    },
  ];
  for (const c of specErrors)
    it(`refuses ${c.name}, at its key`, async () => {
      await assert.rejects(read(spec(TEXTURES, c.extra(TEXTURES))), (error: Error & { path?: string[] }) => {
        assert.equal(error.name, 'UserError');
        assert.match(error.message, c.message);
        assert.deepEqual(error.path, c.key);
        return true;
      });
    });

  it('refuses two images that would share one mask', async () => {
    const dir = copyOf(TEXTURES);
    cpSync(path.join(dir, 'masks', '0001.png'), path.join(dir, 'images', '0001.png'));
    await assert.rejects(read(spec(dir)), /0001\.jpg and .*0001\.png would share one mask/);
  });
});
