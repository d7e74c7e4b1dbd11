/** Deterministic pseudo-random values in [lo, hi), the same on every backend and run. */
export function values(n: number, seed: number, lo = -0.5, hi = 0.5): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = lo + (hi - lo) * (s / 2147483648);
  }
  return out;
}
