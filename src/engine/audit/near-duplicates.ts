import tf from '../tfjs.cjs';
import type { Rows } from './logistic-regression.js';

/** Rows compared at once: a block of similarities is BLOCK × BLOCK floats (4 MiB), whatever the split sizes. */
const BLOCK = 1024;
/** Pairs kept at most: the most similar first. */
export const MAX_PAIRS = 500;

/** Two examples (positions in their row sets) and their cosine similarity. */
export interface SimilarPair {
  a: number;
  b: number;
  similarity: number;
}

/** Each row divided by its L2 norm (a zero row stays zero). */
export function l2Normalised(rows: Rows): Rows {
  const data = new Float32Array(rows.data.length);
  for (let r = 0; r < rows.count; r++) {
    const row = rows.data.subarray(r * rows.width, (r + 1) * rows.width);
    let norm = 0;
    for (const v of row) norm += v * v;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let c = 0; c < rows.width; c++) data[r * rows.width + c] = row[c]! * scale;
  }
  return { data, count: rows.count, width: rows.width };
}

/**
 * Pairs of rows whose cosine similarity reaches `threshold`: between `a`
 * and `b`, or within `a` (each pair once, no row with itself) when `b` is
 * absent. Rows must be L2-normalised. Computed in BLOCK × BLOCK tiles with
 * tf.matMul, so memory stays bounded at any size; at most `cap` pairs, the
 * most similar, are kept.
 */
export function similarPairs(a: Rows, b: Rows | undefined, threshold: number, cap = MAX_PAIRS): SimilarPair[] {
  const other = b ?? a;
  if (other.width !== a.width) throw new RangeError(`rows of ${a.width} values against rows of ${other.width}`);
  let pairs: SimilarPair[] = [];
  for (let i0 = 0; i0 < a.count; i0 += BLOCK) {
    const rowsA = Math.min(BLOCK, a.count - i0);
    const tileA = tf.tensor2d(a.data.subarray(i0 * a.width, (i0 + rowsA) * a.width), [rowsA, a.width]);
    // Within one set only the tiles on or right of the diagonal: each pair once.
    for (let j0 = b ? 0 : i0; j0 < other.count; j0 += BLOCK) {
      const rowsB = Math.min(BLOCK, other.count - j0);
      const values = tf.tidy(() =>
        tileA
          .matMul(tf.tensor2d(other.data.subarray(j0 * a.width, (j0 + rowsB) * a.width), [rowsB, a.width]), false, true)
          .dataSync(),
      );
      for (let i = 0; i < rowsA; i++)
        for (let j = 0; j < rowsB; j++) {
          const s = values[i * rowsB + j]!;
          if (s < threshold || (!b && j0 + j <= i0 + i)) continue;
          pairs.push({ a: i0 + i, b: j0 + j, similarity: Math.min(1, s) });
        }
      if (pairs.length > 4 * cap) pairs = strongest(pairs, cap);
    }
    tileA.dispose();
  }
  return strongest(pairs, cap);
}

function strongest(pairs: SimilarPair[], cap: number): SimilarPair[] {
  return pairs.sort((x, y) => y.similarity - x.similarity || x.a - y.a || x.b - y.b).slice(0, cap);
}

/**
 * Pairs of identical images by their pixels' digests: between `a` and `b`,
 * or within `a` when `b` is absent. Every copy is paired with the first of
 * its group (so a group of n copies gives n − 1 pairs within a set), at
 * most `cap` pairs.
 */
export function exactPairs(
  a: readonly string[],
  b: readonly string[] | undefined,
  cap = MAX_PAIRS,
): { a: number; b: number }[] {
  const pairs: { a: number; b: number }[] = [];
  if (b) {
    const first = new Map<string, number>();
    a.forEach((digest, i) => first.has(digest) || first.set(digest, i));
    b.forEach((digest, j) => {
      const i = first.get(digest);
      if (i !== undefined && pairs.length < cap) pairs.push({ a: i, b: j });
    });
    return pairs;
  }
  const first = new Map<string, number>();
  a.forEach((digest, i) => {
    const at = first.get(digest);
    if (at === undefined) first.set(digest, i);
    else if (pairs.length < cap) pairs.push({ a: at, b: i });
  });
  return pairs;
}

/**
 * Each row of `a`'s `k` most similar rows of `b` (of `a` itself, never the
 * row itself, when `b` is absent), by cosine similarity of L2-normalised
 * rows, in BLOCK-sized tiles. Within one set a pair may come twice (each
 * is among the other's nearest): the caller keeps one.
 */
export function nearestNeighbours(a: Rows, b: Rows | undefined, k: number): SimilarPair[] {
  const other = b ?? a;
  if (other.width !== a.width) throw new RangeError(`rows of ${a.width} values against rows of ${other.width}`);
  const best: SimilarPair[][] = Array.from({ length: a.count }, () => []);
  for (let i0 = 0; i0 < a.count; i0 += BLOCK) {
    const rowsA = Math.min(BLOCK, a.count - i0);
    const tileA = tf.tensor2d(a.data.subarray(i0 * a.width, (i0 + rowsA) * a.width), [rowsA, a.width]);
    for (let j0 = 0; j0 < other.count; j0 += BLOCK) {
      const rowsB = Math.min(BLOCK, other.count - j0);
      const values = tf.tidy(() =>
        tileA
          .matMul(tf.tensor2d(other.data.subarray(j0 * a.width, (j0 + rowsB) * a.width), [rowsB, a.width]), false, true)
          .dataSync(),
      );
      for (let i = 0; i < rowsA; i++) {
        const list = best[i0 + i]!;
        for (let j = 0; j < rowsB; j++) {
          if (!b && j0 + j === i0 + i) continue;
          const s = values[i * rowsB + j]!;
          if (list.length === k && s <= list[k - 1]!.similarity) continue;
          list.push({ a: i0 + i, b: j0 + j, similarity: Math.min(1, s) });
          list.sort((x, y) => y.similarity - x.similarity);
          if (list.length > k) list.pop();
        }
      }
    }
    tileA.dispose();
  }
  return best.flat();
}
