import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { readDataset, selectExamples } from '../../../src/engine/data/datasets.js';
import { describeDataset } from '../../../src/engine/data/describe-dataset.js';
import { decodeImage, listImageFolder } from '../../../src/engine/data/image-folder.js';
import type { DatasetSpec } from '../../../src/format/types.js';
import { workspace, writeDigitImageFolder } from '../../e2e/cli-harness.js';

function folderSpec(
  dir: string,
  extra: Partial<Extract<DatasetSpec, { format: 'imageFolder' }>> = {},
): Extract<DatasetSpec, { format: 'imageFolder' }> {
  return {
    format: 'imageFolder',
    dir,
    limit: {},
    validation: 0.2,
    image: { size: [32, 32], channels: 3, fit: 'cover' },
    testFraction: 0.25,
    onBadFile: 'error',
    ...extra,
  };
}

describe('listImageFolder', () => {
  let dir = '';
  before(async () => {
    dir = workspace('folder');
    await writeDigitImageFolder(dir, 4, ['png', 'jpg', 'PNG', 'webp']);
    writeFileSync(path.join(dir, 'zero', '.DS_Store'), 'x');
    mkdirSync(path.join(dir, 'zero', '.thumbnails'));
    writeFileSync(path.join(dir, 'zero', '.thumbnails', 'a.png'), 'x');
    writeFileSync(path.join(dir, 'one', 'notes.txt'), 'x');
    writeFileSync(path.join(dir, 'one', 'scan.bmp'), 'x');
    writeFileSync(path.join(dir, 'README'), 'x');
    mkdirSync(path.join(dir, '.git'));
  });

  it('takes sorted class folders, nested files and any-case extensions', async () => {
    const listing = await listImageFolder(dir, ['dataset', 'dir']);
    assert.deepEqual(listing.classNames, ['one', 'seven', 'zero']);
    assert.equal(listing.files.length, 12);
    assert.deepEqual(listing.labels, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert.ok(
      listing.files.some((f) => f.includes(`${path.sep}more${path.sep}`)),
      'nested file listed',
    );
    assert.ok(
      listing.files.some((f) => f.endsWith('.PNG')),
      'upper-case extension listed',
    );
  });

  it('ignores hidden files, non-images and unsupported formats, and says why', async () => {
    const listing = await listImageFolder(dir, ['dataset', 'dir']);
    const reasons = Object.fromEntries(listing.ignored.map((s) => [path.relative(dir, s.file), s.reason]));
    assert.deepEqual(reasons, {
      '.git': 'hidden',
      README: 'not inside a class folder',
      'one/notes.txt': 'not an image',
      'one/scan.bmp': '.bmp images are not supported (convert to PNG or JPEG)',
      'zero/.DS_Store': 'hidden',
      'zero/.thumbnails': 'hidden',
    });
  });

  const errors: { name: string; setup: (d: string) => void; message: RegExp }[] = [
    { name: 'a missing folder', setup: () => undefined, message: /image folder .*nowhere: not found/ },
    {
      name: 'a class folder with no images',
      setup: (d) => {
        mkdirSync(path.join(d, 'a'));
        mkdirSync(path.join(d, 'b'));
        writeFileSync(path.join(d, 'a', 'x.png'), 'x');
        writeFileSync(path.join(d, 'b', 'x.txt'), 'x');
      },
      message: /class folder `b` has no images/,
    },
    {
      name: 'a single class',
      setup: (d) => {
        mkdirSync(path.join(d, 'a'));
        writeFileSync(path.join(d, 'a', 'x.png'), 'x');
      },
      message: /has 1 class folder; classification needs at least 2/,
    },
  ];
  for (const c of errors) {
    it(`rejects ${c.name}`, async () => {
      const d = workspace('folder-bad');
      c.setup(d);
      await assert.rejects(
        listImageFolder(c.name === 'a missing folder' ? path.join(d, 'nowhere') : d, ['dataset', 'dir']),
        c.message,
      );
    });
  }
});

describe('decodeImage', () => {
  const size: [number, number] = [24, 32];
  const cases: { name: string; make: () => Promise<Buffer> }[] = [
    {
      name: 'grayscale PNG',
      make: () =>
        sharp({ create: { width: 10, height: 20, channels: 3, background: '#808080' } })
          .toColourspace('b-w')
          .png()
          .toBuffer(),
    },
    {
      name: 'RGBA PNG',
      make: () =>
        sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } })
          .png()
          .toBuffer(),
    },
    {
      name: 'JPEG',
      make: () =>
        sharp({ create: { width: 64, height: 48, channels: 3, background: '#00ff00' } })
          .jpeg()
          .toBuffer(),
    },
    {
      name: 'GIF (first frame)',
      make: () =>
        sharp({ create: { width: 16, height: 16, channels: 3, background: '#0000ff' } })
          .gif()
          .toBuffer(),
    },
    {
      name: 'WebP',
      make: () =>
        sharp({ create: { width: 33, height: 17, channels: 3, background: '#ffffff' } })
          .webp()
          .toBuffer(),
    },
  ];
  for (const c of cases) {
    for (const fit of ['fill', 'cover', 'contain'] as const) {
      it(`${c.name} → RGB ${size.join('×')} (${fit})`, async () => {
        const pixels = await decodeImage(await c.make(), size, fit);
        assert.equal(pixels.length, 24 * 32 * 3);
      });
    }
  }

  it('composites alpha onto black and keeps the colour', async () => {
    const half = await sharp({
      create: { width: 4, height: 4, channels: 4, background: { r: 200, g: 0, b: 0, alpha: 0.5 } },
    })
      .png()
      .toBuffer();
    const pixels = await decodeImage(half, [4, 4], 'fill');
    assert.ok(
      Math.abs(pixels[0]! - 100) <= 2 && pixels[1] === 0 && pixels[2] === 0,
      `got ${pixels.slice(0, 3).join(',')}`,
    );
  });

  it('contain pads with black, cover crops', async () => {
    const wide = await sharp({ create: { width: 40, height: 10, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();
    const contained = await decodeImage(wide, [8, 8], 'contain');
    const covered = await decodeImage(wide, [8, 8], 'cover');
    assert.equal(contained[0], 0, 'top-left of a padded image is black');
    assert.equal(covered[0], 255, 'a cropped image has no padding');
  });

  const bad: { name: string; bytes: () => Promise<Uint8Array>; message: RegExp }[] = [
    { name: 'empty file', bytes: async () => new Uint8Array(0), message: /empty file \(0 bytes\)/ },
    {
      name: 'text with an image extension',
      bytes: async () => new TextEncoder().encode('not an image'),
      message: /unsupported image format|Input buffer/,
    },
    {
      name: 'truncated JPEG',
      bytes: async () => {
        const noise = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 256));
        const jpeg = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } })
          .jpeg()
          .toBuffer();
        return jpeg.subarray(0, jpeg.length >> 1);
      },
      message: /premature end of JPEG/,
    },
  ];
  for (const c of bad)
    it(`fails on ${c.name}`, async () => assert.rejects(decodeImage(await c.bytes(), size, 'fill'), c.message));
});

describe('describeDataset', () => {
  it('warns about imbalanced classes and names the rare ones', async () => {
    const dir = workspace('imbalance');
    const files = await writeDigitImageFolder(dir, 8);
    // Leave `seven` with 2 images against 8.
    for (const file of files.filter((f) => f.includes(`${path.sep}seven${path.sep}`)).slice(2)) rmSync(file);
    const report = await describeDataset(folderSpec(dir, { validation: 0, testFraction: 0 }), 1);
    assert.deepEqual(report.counts.train, [8, 2, 8]);
    assert.equal(report.imbalance.ratio, 4);
    assert.deepEqual(report.imbalance.rareClasses, ['seven']);
    assert.deepEqual(report.sourceSize.height, { min: 28, median: 28, max: 28 });
  });
});

describe('readDataset for image folders', () => {
  it('decodes every file before training and names a corrupt one', async () => {
    const dir = workspace('corrupt');
    const files = await writeDigitImageFolder(dir, 3);
    writeFileSync(files[1]!, readFileSync(files[1]!).subarray(0, 40));
    writeFileSync(path.join(dir, 'zero', 'empty.png'), '');
    await assert.rejects(readDataset(folderSpec(dir)), (error: Error) => {
      assert.match(error.message, /2 image files cannot be decoded/);
      assert.ok(error.message.includes(files[1]!), 'names the truncated file');
      assert.match(error.message, /empty.png: empty file \(0 bytes\)/);
      return true;
    });
  });

  it('with onBadFile: skip, trains without them and lists them', async () => {
    const dir = workspace('skip');
    const files = await writeDigitImageFolder(dir, 3);
    writeFileSync(files[4]!, 'garbage');
    const dataset = await readDataset(folderSpec(dir, { onBadFile: 'skip' }));
    assert.equal(dataset.train.count, 8);
    assert.deepEqual(
      dataset.skipped.map((s) => s.file),
      [files[4]],
    );
  });

  it('streams (decodes per batch) when decoded pixels exceed the cache, with the same pixels', async () => {
    const dir = workspace('stream');
    await writeDigitImageFolder(dir, 3);
    const cached = await readDataset(folderSpec(dir));
    const streamed = await readDataset(folderSpec(dir), { cacheBytes: 1000 });
    assert.deepEqual([cached.storage, streamed.storage], ['memory', 'streaming']);
    assert.deepEqual((await streamed.train.pixels([0, 5, 8])).data, (await cached.train.pixels([0, 5, 8])).data);
    assert.equal(streamed.digest, cached.digest);
  });

  it('splits the same files the same way whatever order they were created in', async () => {
    const a = workspace('order-a');
    const b = workspace('order-b');
    const written = await writeDigitImageFolder(a, 8);
    // Copy into b in reverse creation order.
    for (const file of [...written].reverse()) {
      const target = path.join(b, path.relative(a, file));
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, readFileSync(file));
    }
    const split = async (dir: string) => {
      const d = await readDataset(folderSpec(dir));
      const s = selectExamples(d, { validation: 0.2, testFraction: 0.25, seed: 5 });
      return {
        digest: d.digest,
        train: s.train.map((i) => path.relative(dir, d.train.name(i))),
        test: s.test.map((i) => path.relative(dir, d.train.name(i))),
      };
    };
    assert.deepEqual(await split(b), await split(a));
  });
});

describe('only what the limits select is read', () => {
  it('perClass and testPerClass: of 40 undecodable files per class, only the 2 + 1 selected are read (and named)', async () => {
    const dir = workspace('select-first');
    for (const split of ['train', 'test']) {
      for (const name of ['a', 'b', 'c']) {
        mkdirSync(path.join(dir, split, name), { recursive: true });
        for (let i = 0; i < 40; i++)
          writeFileSync(path.join(dir, split, name, `${String(i).padStart(2, '0')}.png`), 'not a png');
      }
    }
    const spec = {
      ...folderSpec(path.join(dir, 'train'), { validation: 0, testFraction: 0 }),
      testDir: path.join(dir, 'test'),
      limit: { perClass: 2, testPerClass: 1 },
    };
    await assert.rejects(readDataset(spec), (error: Error) => {
      assert.match(error.message, /^9 image files cannot be decoded:/);
      return true;
    });
  });
});
