import type * as tf from '@tensorflow/tfjs';
import { joinShards } from './zoo.js';

export type QuantizeDtype = 'uint8' | 'float16';

/**
 * Float32 weights as tfjs's weight-manifest quantization stores them, which
 * `tf.loadLayersModel` decodes on load (tfjs-core io_utils decodeWeight):
 * uint8 — per tensor, v ≈ q · scale + min, one byte a weight (the
 * converter's affine scheme, 4× smaller); float16 — IEEE half precision,
 * two bytes a weight (2× smaller). Weights that are not float32 stay as
 * they are.
 */
export function quantizeWeights(
  specs: readonly tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
  dtype: QuantizeDtype,
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const out: Uint8Array[] = [];
  const quantized: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = spec.dtype === 'float32' || spec.dtype === 'int32' ? count * 4 : undefined;
    if (bytes === undefined || 'quantization' in spec)
      throw new Error(`cannot quantize weight ${spec.name} of dtype ${spec.dtype}`);
    const raw = new Uint8Array(data, offset, bytes);
    offset += bytes;
    if (spec.dtype !== 'float32') {
      out.push(raw.slice());
      quantized.push({ ...spec });
      continue;
    }
    const values = new Float32Array(raw.slice().buffer);
    if (dtype === 'float16') {
      out.push(new Uint8Array(toFloat16(values).buffer));
      quantized.push({ ...spec, quantization: { dtype: 'float16' } });
      continue;
    }
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (count === 0) min = max = 0;
    const scale = max > min ? (max - min) / 255 : 1;
    const q = new Uint8Array(count);
    for (let i = 0; i < count; i++) q[i] = Math.min(255, Math.max(0, Math.round((values[i]! - min) / scale)));
    out.push(q);
    quantized.push({ ...spec, quantization: { dtype: 'uint8', scale, min } });
  }
  return { specs: quantized, data: joinShards(out) };
}

/** Float32 values as IEEE 754 half-precision bit patterns, rounded to nearest even (overflow to ±Infinity, tiny values to subnormals or 0). */
export function toFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = bits[i]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    const mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0); // Infinity or NaN
      continue;
    }
    const e = exponent - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      // Subnormal: the implicit leading 1 made explicit, shifted into place, rounded to nearest even.
      const m = mantissa | 0x800000;
      const shift = 14 - e;
      let half = m >>> shift;
      const rest = m & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (rest > halfway || (rest === halfway && half & 1)) half++;
      out[i] = sign | half;
      continue;
    }
    let half = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (and reaches Infinity at the top).
    if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
    out[i] = sign | half;
  }
  return out;
}
