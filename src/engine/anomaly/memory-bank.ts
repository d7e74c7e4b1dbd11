import tf from '../tfjs.cjs';
import { UserError } from '../../diagnostics/user-error.js';
import { throwIfAborted } from '../errors.js';
import { SeededRandom } from '../random.js';
import { gaussianProjection } from './patch-features.js';

/**
 * PatchCore, not PaDiM. PaDiM fits a Gaussian per grid position: a
 * [positions × d × d] covariance (at 8×8 positions and 768 dimensions,
 * 64 × 768² floats = 151 MB, and an inverse of each), and it assumes the
 * normal images are aligned so that one position always shows the same part
 * of the object — true of a product photographed on a jig, less so of
 * handwriting, whose strokes move with slant and size even in a centred
 * box. PatchCore keeps normal patches themselves in a memory bank and scores
 * a test patch by the distance to its nearest normal patch, wherever that
 * came from; a seeded coreset bounds the bank to a stated fraction and a
 * hard cap in bytes, and nothing per position is stored.
 */

/** A memory bank: `count` normal patches of `dim` float32s, row-major. */
export interface MemoryBank {
  patches: Float32Array;
  count: number;
  dim: number;
}

export interface CoresetSettings {
  /** Fraction of the training patches kept (anomalib's `coreset_sampling_ratio`, 0.1 by default). */
  fraction: number;
  /** A hard cap on the bank's size in bytes: the coreset stops at this many patches whatever the fraction. */
  maxBytes: number;
  seed: number;
  /**
   * The greedy's distances are measured on a seeded random projection of
   * this many dimensions (anomalib projects with a sparse random projection
   * too): the choice of centres needs only rough distances, at a fraction of
   * the cost.
   */
  projectTo: number;
}

/** What the coreset did, recorded with the bank. */
export interface CoresetRecord extends CoresetSettings {
  /** Patches the bank was chosen from. */
  fromPatches: number;
  /** Patches kept. */
  kept: number;
  /** Whether the byte cap, not the fraction, decided how many were kept. */
  capped: boolean;
}

/** How many patches the bank keeps: the fraction of `count`, at least one, at most what `maxBytes` holds. */
export function coresetSize(count: number, dim: number, settings: CoresetSettings): { size: number; capped: boolean } {
  const wanted = Math.min(count, Math.max(1, Math.ceil(settings.fraction * count)));
  const fits = Math.floor(settings.maxBytes / (4 * dim));
  if (fits < 1)
    throw new UserError(
      `a memory bank of ${settings.maxBytes} bytes cannot hold one patch of ${dim} float32s`,
      ['anomaly', 'layers'],
      'name layers with fewer channels',
    );
  return { size: Math.min(wanted, fits), capped: fits < wanted };
}

/** `rows` of `dim` through the seeded [dim, to] projection, on the backend (the one heavy product of the coreset). */
function project(rows: Float32Array, count: number, dim: number, to: number, seed: number): Float32Array {
  return tf.tidy(() =>
    tf
      .matMul(
        tf.tensor2d(rows, [count, dim]),
        tf.tensor2d(gaussianProjection(dim, to, seed, 'coreset-projection'), [dim, to]),
      )
      .dataSync(),
  ) as Float32Array;
}

/**
 * k-center greedy (Sener & Savarese 2018, as PatchCore and anomalib's
 * `KCenterGreedy`): from a seeded random first centre, repeatedly take the
 * patch farthest from every centre taken so far, so the bank covers the
 * normal patches' spread rather than their density. The greedy runs in
 * plain JS on the projection: one step per centre on the backend, each with
 * a read back, took 2.6× longer on wasm (216 s against 82 s for three
 * digits of the bench). The indexes are returned in the order chosen.
 */
export function kCenterGreedy(
  patches: Float32Array,
  count: number,
  dim: number,
  size: number,
  settings: Pick<CoresetSettings, 'seed' | 'projectTo'>,
  signal?: AbortSignal,
): number[] {
  const to = Math.min(dim, settings.projectTo);
  const points = to < dim ? project(patches, count, dim, to, settings.seed) : patches;
  const nearest = new Float64Array(count).fill(Infinity);
  const chosen: number[] = [];
  let next = Math.floor(new SeededRandom(settings.seed).fork('coreset-start').next() * count);
  while (chosen.length < size) {
    if (chosen.length % 256 === 0) throwIfAborted(signal);
    chosen.push(next);
    const centre = next * to;
    let farthest = -1;
    for (let p = 0; p < count; p++) {
      let d = 0;
      const row = p * to;
      for (let j = 0; j < to; j++) {
        const diff = points[row + j]! - points[centre + j]!;
        d += diff * diff;
      }
      if (d < nearest[p]!) nearest[p] = d;
      // Ties go to the lowest index, so the choice does not depend on float noise in the order of a loop.
      if (nearest[p]! > farthest) {
        farthest = nearest[p]!;
        next = p;
      }
    }
    if (farthest <= 0) break; // every patch is a centre's duplicate: more centres would add nothing
  }
  return chosen;
}

/**
 * The bank from the normal training images' patches ([count, dim],
 * row-major): the seeded coreset, bounded by the fraction and the byte cap.
 */
export function buildMemoryBank(
  patches: Float32Array,
  dim: number,
  settings: CoresetSettings,
  signal?: AbortSignal,
): { bank: MemoryBank; coreset: CoresetRecord } {
  const count = patches.length / dim;
  if (!Number.isInteger(count) || count < 1) throw new Error(`${patches.length} floats are not rows of ${dim}`);
  const { size, capped } = coresetSize(count, dim, settings);
  const indexes =
    size === count
      ? Array.from({ length: count }, (_, i) => i)
      : kCenterGreedy(patches, count, dim, size, settings, signal);
  const bank = new Float32Array(indexes.length * dim);
  indexes.forEach((index, row) => bank.set(patches.subarray(index * dim, (index + 1) * dim), row * dim));
  return {
    bank: { patches: bank, count: indexes.length, dim },
    coreset: { ...settings, fromPatches: count, kept: indexes.length, capped },
  };
}

/** Scores of a batch of images, patch by patch. */
export interface AnomalyScores {
  images: number;
  grid: [number, number];
  /** Each image's score: its most anomalous patch (re-weighted when `neighbours` > 1). */
  imageScores: Float32Array;
  /** [images × grid cells]: each patch's distance to its nearest bank patch. */
  patchScores: Float32Array;
}

export interface ScoreOptions {
  /**
   * 1: an image's score is its largest patch distance (PatchCore's s*).
   * More: anomalib's re-weighting, s* × (1 − softmax of the distances from
   * that patch to its nearest bank patch's `neighbours` nearest bank
   * patches)[0], which lowers the score of a patch whose nearest normal
   * patch sits in a dense part of the bank.
   */
  neighbours?: number;
  /** Test patches per distance matrix: bounds the [chunk × bank] matrix held at once. */
  chunkCells?: number;
  signal?: AbortSignal;
}

/** The bank on the tfjs backend, with its squared norms: loaded once, used for every batch scored. */
export interface LoadedBank {
  bank: MemoryBank;
  patches: tf.Tensor2D;
  squaredNorms: tf.Tensor2D;
  dispose(): void;
}

export function loadBank(bank: MemoryBank): LoadedBank {
  const patches = tf.tensor2d(bank.patches, [bank.count, bank.dim]);
  const squaredNorms = tf.tidy(() => tf.sum(tf.square(patches), 1).reshape([1, bank.count]) as tf.Tensor2D);
  return {
    bank,
    patches,
    squaredNorms,
    dispose: () => {
      patches.dispose();
      squaredNorms.dispose();
    },
  };
}

/** Each row's Euclidean distance to its nearest bank patch and that patch's index: ‖a‖² − 2ab + ‖b‖², clamped at 0 against rounding. */
async function nearestInBank(
  loaded: LoadedBank,
  rows: Float32Array,
  options: ScoreOptions,
): Promise<{ distances: Float32Array; nearest: Int32Array }> {
  const dim = loaded.bank.dim;
  const count = rows.length / dim;
  const chunk = Math.max(1, options.chunkCells ?? Math.floor(2 ** 22 / loaded.bank.count));
  const distances = new Float32Array(count);
  const nearest = new Int32Array(count);
  for (let from = 0; from < count; from += chunk) {
    throwIfAborted(options.signal);
    const to = Math.min(count, from + chunk);
    const [best, at] = tf.tidy((): [tf.Tensor, tf.Tensor] => {
      const a = tf.tensor2d(rows.subarray(from * dim, to * dim), [to - from, dim]);
      const squared = tf.add(
        tf.sub(tf.sum(tf.square(a), 1, true), tf.mul(2, tf.matMul(a, loaded.patches, false, true))),
        loaded.squaredNorms,
      );
      return [tf.sqrt(tf.relu(tf.min(squared, 1))), tf.argMin(squared, 1)];
    });
    try {
      distances.set(await best.data(), from);
      nearest.set(await at.data(), from);
    } finally {
      best.dispose();
      at.dispose();
    }
  }
  return { distances, nearest };
}

function distance(a: Float32Array, aRow: number, b: Float32Array, bRow: number, dim: number): number {
  let d = 0;
  for (let j = 0; j < dim; j++) {
    const diff = a[aRow * dim + j]! - b[bRow * dim + j]!;
    d += diff * diff;
  }
  return Math.sqrt(d);
}

/**
 * anomalib's `compute_anomaly_score` for one image, in JS: one pass over the
 * bank from the worst patch's nearest bank patch (which is its own first
 * support sample, at distance 0, as in anomalib) — per image, too small to
 * be worth a kernel launch.
 */
function reweighted(
  bank: MemoryBank,
  patch: Float32Array,
  patchRow: number,
  score: number,
  nearest: number,
  neighbours: number,
): number {
  const fromNearest = Array.from({ length: bank.count }, (_, i) => ({
    i,
    d: distance(bank.patches, nearest, bank.patches, i, bank.dim),
  }));
  fromNearest.sort((x, y) => x.d - y.d || x.i - y.i);
  const support = fromNearest.slice(0, Math.min(neighbours, bank.count)).map((s) => s.i);
  const d = support.map((i) => distance(patch, patchRow, bank.patches, i, bank.dim));
  const top = Math.max(...d);
  const exps = d.map((x) => Math.exp(x - top));
  const weight = 1 - exps[0]! / exps.reduce((a, b) => a + b, 0);
  return weight * score;
}

/**
 * Scores `images` images' patches ([images × grid cells, dim], as
 * patch-features gives them) against the bank: each patch its distance to
 * the nearest normal patch, each image its most anomalous patch.
 */
export async function scorePatches(
  loaded: LoadedBank,
  patches: Float32Array,
  grid: [number, number],
  options: ScoreOptions = {},
): Promise<AnomalyScores> {
  const cells = grid[0] * grid[1];
  const images = patches.length / (cells * loaded.bank.dim);
  if (!Number.isInteger(images))
    throw new Error(`${patches.length} floats are not images of ${cells} patches of ${loaded.bank.dim}`);
  const { distances, nearest } = await nearestInBank(loaded, patches, options);
  const imageScores = new Float32Array(images);
  const neighbours = options.neighbours ?? 1;
  for (let image = 0; image < images; image++) {
    let worst = image * cells;
    for (let cell = image * cells + 1; cell < (image + 1) * cells; cell++)
      if (distances[cell]! > distances[worst]!) worst = cell;
    imageScores[image] =
      neighbours > 1
        ? reweighted(loaded.bank, patches, worst, distances[worst]!, nearest[worst]!, neighbours)
        : distances[worst]!;
  }
  return { images, grid, imageScores, patchScores: distances };
}

/** Image `index`'s heat map: its patch scores on the grid, row by row. */
export function heatMap(scores: AnomalyScores, index: number): { grid: [number, number]; values: Float32Array } {
  const cells = scores.grid[0] * scores.grid[1];
  if (!(index >= 0 && index < scores.images)) throw new RangeError(`no image ${index} among ${scores.images}`);
  return { grid: scores.grid, values: scores.patchScores.slice(index * cells, (index + 1) * cells) };
}
