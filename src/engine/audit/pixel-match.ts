/**
 * Whether two images are the same picture, moved by a pixel or two and
 * recompressed: compared at a small grey size, each normalised (zero mean,
 * unit deviation, so brightness and contrast changes do not count), at the
 * best of the small shifts. Feature similarity alone cannot tell a shifted
 * copy from a look-alike (handwritten ones are all alike); aligned pixels
 * can. Pure.
 */

/** The signature's side at most: images are compared at this size or their own, if smaller. */
export const SIGNATURE_SIDE = 32;
/**
 * Beyond this many examples signatures are 16×16: a signature and its
 * blurred row take 8 KiB at 32×32, 2 KiB at 16×16, for every example.
 */
export const LARGE_DATASET = 20_000;
/** Shifts tried, in signature pixels, each way. */
const RADIUS = 2;
/** At or below this aligned distance two images are the same picture. */
export const PIXEL_MATCH = 0.13;

export interface Signature {
  side: number;
  values: Float32Array;
}

/**
 * Signatures as rows for a nearest-neighbour search: each lightly blurred
 * (so a copy moved by a pixel stays close) and L2-normalised. Where
 * features do not find a moved copy (features of a late layer can differ
 * more between a digit and its shifted copy than between two digits),
 * these do.
 */
export function signatureRows(signatures: readonly Signature[]): { data: Float32Array; count: number; width: number } {
  const side = signatures[0]?.side ?? 0;
  const width = side * side;
  const data = new Float32Array(signatures.length * width);
  signatures.forEach((s, r) => {
    if (s.side !== side) return;
    const row = data.subarray(r * width, (r + 1) * width);
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        let sum = 0;
        let weight = 0;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= side || xx < 0 || xx >= side) continue;
            const w = (2 - Math.abs(dy)) * (2 - Math.abs(dx));
            sum += w * s.values[yy * side + xx]!;
            weight += w;
          }
        row[y * side + x] = sum / weight;
      }
    let norm = 0;
    for (const v of row) norm += v * v;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < width; i++) row[i]! *= scale;
  });
  return { data, count: signatures.length, width };
}

/** The image as a grey side × side grid (box-averaged), normalised. */
export function pixelSignature(
  pixels: ArrayLike<number>,
  height: number,
  width: number,
  channels: number,
  largest = SIGNATURE_SIDE,
): Signature {
  const side = Math.max(1, Math.min(largest, height, width));
  const values = new Float32Array(side * side);
  for (let y = 0; y < side; y++) {
    const y0 = Math.floor((y * height) / side);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * height) / side));
    for (let x = 0; x < side; x++) {
      const x0 = Math.floor((x * width) / side);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * width) / side));
      let sum = 0;
      for (let yy = y0; yy < y1; yy++)
        for (let xx = x0; xx < x1; xx++)
          for (let c = 0; c < channels; c++) sum += pixels[(yy * width + xx) * channels + c]!;
      values[y * side + x] = sum / ((y1 - y0) * (x1 - x0) * channels);
    }
  }
  let mean = 0;
  for (const v of values) mean += v;
  mean /= values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  const deviation = Math.sqrt(squares / values.length);
  for (let i = 0; i < values.length; i++) values[i] = deviation > 1e-6 ? (values[i]! - mean) / deviation : 0;
  return { side, values };
}

/**
 * The root-mean-square difference of two signatures at the best shift of
 * up to RADIUS pixels each way, over the part both cover, divided by √2:
 * 0 for the same picture, about 1 for unrelated ones. Infinity for
 * signatures of different sizes, or too small to shift.
 */
export function alignedDistance(a: Signature, b: Signature): number {
  if (a.side !== b.side || a.side <= 2 * RADIUS)
    return a.side === b.side && a.side <= 2 * RADIUS ? unshifted(a, b) : Number.POSITIVE_INFINITY;
  const side = a.side;
  let best = Number.POSITIVE_INFINITY;
  for (let dy = -RADIUS; dy <= RADIUS; dy++)
    for (let dx = -RADIUS; dx <= RADIUS; dx++) {
      let sum = 0;
      for (let y = RADIUS; y < side - RADIUS; y++)
        for (let x = RADIUS; x < side - RADIUS; x++) {
          const d = a.values[y * side + x]! - b.values[(y + dy) * side + x + dx]!;
          sum += d * d;
        }
      best = Math.min(best, sum);
    }
  const inner = (side - 2 * RADIUS) ** 2;
  return Math.sqrt(best / inner / 2);
}

function unshifted(a: Signature, b: Signature): number {
  let sum = 0;
  for (let i = 0; i < a.values.length; i++) sum += (a.values[i]! - b.values[i]!) ** 2;
  return Math.sqrt(sum / a.values.length / 2);
}
