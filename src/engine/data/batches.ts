import tf from '../tfjs.cjs';

/** A split that yields model inputs and one-hot targets for any list of its examples. */
export interface BatchSource {
  count: number;
  /** Both tensors belong to the caller, who disposes them. */
  batch(positions: number[]): Promise<{ x: tf.Tensor; y: tf.Tensor }>;
}

/**
 * Loss weights of a training split's examples by position, for a split
 * whose positions from `from` on are `dataset.source` examples: those weigh
 * `weights[p − from]` × decay^(epoch − 1), the rest 1. A split without
 * them has none, and its batches are weighed as they always were.
 */
export interface PositionWeights {
  from: number;
  weights: Float32Array;
  decay: number;
}

/** The weights of `positions` in (global, from 1) epoch `epoch`. */
export function weightsAt(weights: PositionWeights, positions: readonly number[], epoch: number): Float32Array {
  const factor = weights.decay === 1 ? 1 : weights.decay ** (epoch - 1);
  return Float32Array.from(positions, (p) => (p < weights.from ? 1 : weights.weights[p - weights.from]! * factor));
}

/**
 * Yields the batches for `chunks` in order, asking for the next one before
 * the current one is used: image decoding (sharp, on libuv's threads) then
 * overlaps the training step (tfjs, on this thread).
 */
export async function* prefetched(
  source: BatchSource,
  chunks: number[][],
): AsyncGenerator<{ positions: number[]; x: tf.Tensor; y: tf.Tensor }> {
  // Handled as soon as asked for, thrown when awaited: a load that fails while the current batch trains
  // must not be an unhandled rejection (which ends the process before the run can be marked failed).
  const ask = (positions: number[]): Promise<{ x: tf.Tensor; y: tf.Tensor }> => {
    const batch = source.batch(positions);
    batch.catch(() => undefined);
    return batch;
  };
  let next = chunks.length > 0 ? ask(chunks[0]!) : undefined;
  for (let i = 0; i < chunks.length; i++) {
    const current = await next!;
    next = i + 1 < chunks.length ? ask(chunks[i + 1]!) : undefined;
    let consumed = false;
    try {
      yield { positions: chunks[i]!, ...current };
      consumed = true;
    } finally {
      // The consumer stopped here (an error or a break in its loop calls `return`, which runs only this):
      // dispose what was already prefetched; a batch that failed to load has nothing to dispose, and its error is not the one to report.
      if (!consumed && next)
        await next.then(
          (batch) => tf.dispose(Object.values(batch)),
          () => undefined,
        );
    }
  }
}

export function chunk(items: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

export function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}
