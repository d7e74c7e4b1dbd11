import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../src/diagnostics/user-error.js';
import {
  buildMemoryBank,
  coresetSize,
  heatMap,
  kCenterGreedy,
  loadBank,
  scorePatches,
  type CoresetSettings,
} from '../../../src/engine/anomaly/memory-bank.js';
import { SeededRandom } from '../../../src/engine/random.js';

/** `count` rows of `dim` uniform values in [0, 1), from the seed. */
function randomRows(count: number, dim: number, seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: count * dim }, () => random.next());
}

const settings = (overrides: Partial<CoresetSettings> = {}): CoresetSettings => ({
  fraction: 0.1,
  maxBytes: 2 ** 20,
  seed: 7,
  projectTo: 4,
  ...overrides,
});

const distance = (a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number =>
  Math.sqrt(Array.from({ length: dim }, (_, k) => (a[i * dim + k]! - b[j * dim + k]!) ** 2).reduce((x, y) => x + y, 0));

describe('the memory bank: a seeded k-center coreset of the normal patches', () => {
  const dim = 8;
  const patches = randomRows(400, dim, 1);

  it('the same seed gives the same bank; another seed another', () => {
    const a = buildMemoryBank(patches, dim, settings());
    const b = buildMemoryBank(patches, dim, settings());
    const c = buildMemoryBank(patches, dim, settings({ seed: 8 }));
    assert.deepEqual(a.bank, b.bank);
    assert.notDeepEqual(a.bank.patches, c.bank.patches);
  });

  const sizes: { name: string; settings: CoresetSettings; kept: number; capped: boolean }[] = [
    { name: 'the fraction, rounded up', settings: settings({ fraction: 0.1 }), kept: 40, capped: false },
    { name: 'at least one patch', settings: settings({ fraction: 0 }), kept: 1, capped: false },
    { name: 'every patch at fraction 1', settings: settings({ fraction: 1 }), kept: 400, capped: false },
    {
      name: 'no more than the byte cap holds',
      settings: settings({ fraction: 0.5, maxBytes: 25 * dim * 4 + 3 }),
      kept: 25,
      capped: true,
    },
  ];
  for (const c of sizes) {
    it(`keeps ${c.name}`, () => {
      const { bank, coreset } = buildMemoryBank(patches, dim, c.settings);
      assert.equal(bank.count, c.kept);
      assert.equal(bank.patches.length, c.kept * dim);
      assert.equal(coreset.kept, c.kept);
      assert.equal(coreset.fromPatches, 400);
      assert.equal(coreset.capped, c.capped);
      assert.ok(bank.patches.byteLength <= c.settings.maxBytes);
    });
  }

  it('a cap below one patch is a user error', () => {
    assert.throws(() => coresetSize(10, dim, settings({ maxBytes: 4 * dim - 1 })), UserError);
  });

  it('takes the patch farthest from the first centre next: a lone outlier is kept', () => {
    const rows = randomRows(100, dim, 2).map((v) => v * 0.01);
    rows.fill(50, 63 * dim, 64 * dim);
    const chosen = kCenterGreedy(rows, 100, dim, 3, { seed: 3, projectTo: dim });
    assert.equal(chosen[0] === 63 ? 63 : chosen[1], 63);
    assert.equal(new Set(chosen).size, 3);
  });

  it('the bank rows are training patches, whole', () => {
    const { bank } = buildMemoryBank(patches, dim, settings());
    for (let row = 0; row < bank.count; row++) {
      const found = Array.from({ length: 400 }, (_, i) => i).some(
        (i) => distance(bank.patches, row, patches, i, dim) === 0,
      );
      assert.ok(found, `bank row ${row} is not a training patch`);
    }
  });
});

describe('scoring against the bank', () => {
  const dim = 6;
  const grid: [number, number] = [3, 4];
  const bankRows = randomRows(50, dim, 11);
  // Two test images of normal-looking patches (bank rows with a little noise); image 1 has an outlier at cell 7.
  const noise = new SeededRandom(12);
  const test = Float32Array.from(
    { length: 2 * 12 * dim },
    (_, i) => bankRows[i % (50 * dim)]! + (noise.next() - 0.5) * 0.01,
  );
  test.fill(5, (12 + 7) * dim, (12 + 8) * dim);

  it('finds the planted outlier patch, scores its image by it, and matches brute-force distances', async () => {
    const loaded = loadBank({ patches: bankRows, count: 50, dim });
    try {
      const scores = await scorePatches(loaded, test, grid, { chunkCells: 5 });
      assert.equal(scores.images, 2);
      const map = heatMap(scores, 1);
      assert.deepEqual(map.grid, [3, 4]);
      assert.equal(map.values.length, 12);
      const worst = map.values.indexOf(Math.max(...map.values));
      assert.equal(worst, 7);
      assert.equal(scores.imageScores[1], map.values[7]);
      assert.ok(scores.imageScores[1]! > 10 * scores.imageScores[0]!);
      for (let cell = 0; cell < 24; cell++) {
        const nearest = Math.min(...Array.from({ length: 50 }, (_, b) => distance(test, cell, bankRows, b, dim)));
        assert.ok(
          Math.abs(scores.patchScores[cell]! - nearest) < 1e-3,
          `cell ${cell}: ${scores.patchScores[cell]} vs ${nearest}`,
        );
      }
    } finally {
      loaded.dispose();
    }
  });

  it("anomalib's re-weighting scales the worst patch's distance by a weight in (0, 1)", async () => {
    const loaded = loadBank({ patches: bankRows, count: 50, dim });
    try {
      const plain = await scorePatches(loaded, test, grid);
      const weighted = await scorePatches(loaded, test, grid, { neighbours: 9 });
      for (let i = 0; i < 2; i++) {
        assert.ok(weighted.imageScores[i]! > 0 && weighted.imageScores[i]! < plain.imageScores[i]!);
      }
      assert.deepEqual(weighted.patchScores, plain.patchScores);
    } finally {
      loaded.dispose();
    }
  });

  it('a heat map of an image that is not there is refused', async () => {
    const loaded = loadBank({ patches: bankRows, count: 50, dim });
    try {
      const scores = await scorePatches(loaded, test, grid);
      assert.throws(() => heatMap(scores, 2), RangeError);
    } finally {
      loaded.dispose();
    }
  });
});
