import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classBalance, confusedPairs, IMBALANCE_WARNING_RATIO } from '../../../src/engine/audit/class-balance.js';
import { imageStatistic, statisticOutliers, type ImageStatistic } from '../../../src/engine/audit/image-statistics.js';
import { alignedDistance, PIXEL_MATCH, pixelSignature } from '../../../src/engine/audit/pixel-match.js';

describe('class statistics that stand out', () => {
  /** Images of `classes` classes, `perClass` each, brightness around each class's mean with a spread of ±5. */
  const images = (means: number[], perClass = 10): { stats: ImageStatistic[]; labels: number[] } => {
    const stats: ImageStatistic[] = [];
    const labels: number[] = [];
    means.forEach((mean, c) => {
      for (let i = 0; i < perClass; i++) {
        stats.push({ brightness: mean + ((i % 5) - 2) * 2.5, contrast: 40 + (i % 3) });
        labels.push(c);
      }
    });
    return { stats, labels };
  };
  const cases: { name: string; means: number[]; outliers: { class: number; direction: string }[] }[] = [
    {
      name: 'one class much brighter than the others',
      means: [30, 35, 32, 90],
      outliers: [{ class: 3, direction: 'higher' }],
    },
    {
      name: 'two classes, one much darker',
      means: [120, 60],
      outliers: [
        { class: 0, direction: 'higher' },
        { class: 1, direction: 'lower' },
      ],
    },
    { name: 'differences within the spread of a class: none', means: [30, 33, 35, 31], outliers: [] },
  ];
  for (const c of cases)
    it(c.name, () => {
      const { stats, labels } = images(c.means);
      const found = statisticOutliers(stats, labels, c.means.length).filter((o) => o.statistic === 'brightness');
      assert.deepEqual(
        found.map((o) => ({ class: o.class, direction: o.direction })).sort((a, b) => a.class - b.class),
        c.outliers,
      );
    });

  it("an image's brightness and contrast are its pixels' mean and deviation", () => {
    assert.deepEqual(imageStatistic([0, 255, 0, 255]), { brightness: 127.5, contrast: 127.5 });
  });
});

describe('class balance and hard pairs', () => {
  it('counts, the ratio of the largest class to the smallest, and a warning above the ratio', () => {
    assert.deepEqual(classBalance([0, 0, 0, 1], 2), { counts: [3, 1], ratio: 3, warn: false });
    const skewed = classBalance([...new Array<number>(40).fill(0), ...new Array<number>(10).fill(1)], 2);
    assert.equal(skewed.ratio, 4);
    assert.equal(skewed.warn, 4 > IMBALANCE_WARNING_RATIO);
    assert.equal(classBalance([0, 0], 2).ratio, Number.POSITIVE_INFINITY);
  });

  it('pairs of classes with a large share of one predicted as the other, the largest first', () => {
    const pairs = confusedPairs([
      [90, 10, 0],
      [30, 70, 0],
      [1, 0, 99],
    ]);
    assert.deepEqual(
      pairs.map((p) => [p.actual, p.predicted]),
      [
        [1, 0],
        [0, 1],
      ],
    );
  });
});

describe('the same picture, shifted and recompressed', () => {
  /** A 28×28 grey image with a bar and a blob (a digit-like shape), moved by dx. */
  const shape = (dx: number, noise = 0, variant = 0): Uint8Array => {
    const out = new Uint8Array(28 * 28);
    let seed = 11 + variant;
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++) {
        const sx = x - dx;
        const bar = variant === 0 ? Math.abs(sx - 14) < 2 && y > 4 && y < 24 : Math.abs(sx - y) < 2;
        const blob = (sx - 9) ** 2 + (y - 8) ** 2 < 12;
        seed = (seed * 16807) % 2147483647;
        const jitter = noise * ((seed / 2147483647) * 2 - 1);
        out[y * 28 + x] = Math.max(0, Math.min(255, (bar || blob ? 230 : 10) + jitter));
      }
    return out;
  };
  const signature = (pixels: Uint8Array) => pixelSignature(pixels, 28, 28, 1);
  const cases: { name: string; a: Uint8Array; b: Uint8Array; same: boolean }[] = [
    { name: 'identical', a: shape(0), b: shape(0), same: true },
    { name: 'shifted by a pixel, with noise', a: shape(0), b: shape(1, 12), same: true },
    { name: 'brighter copy (normalised away)', a: shape(0), b: shape(0).map((v) => Math.min(255, v + 20)), same: true },
    { name: 'another shape', a: shape(0), b: shape(0, 0, 1), same: false },
    { name: 'shifted by five pixels (beyond the shifts tried)', a: shape(0), b: shape(5), same: false },
  ];
  for (const c of cases)
    it(c.name, () => {
      const distance = alignedDistance(signature(c.a), signature(c.b));
      assert.equal(distance <= PIXEL_MATCH, c.same, `distance ${distance}`);
    });

  it('signatures of different sizes never match', () => {
    assert.equal(
      alignedDistance(pixelSignature(new Uint8Array(16), 4, 4, 1), signature(shape(0))),
      Number.POSITIVE_INFINITY,
    );
  });
});
