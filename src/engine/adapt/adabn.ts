import tf from '../tfjs.cjs';
import { range } from '../data/batches.js';
import type { TargetSource } from '../data/target-images.js';
import { allLayers } from '../model/frozen-batch-norm.js';

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** What tfjs-layers' BatchNormalization keeps (private in its typings): its variables and config. */
interface BatchNormInternals {
  call: CallFn;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
  getConfig(): { axis?: number | number[]; epsilon?: number; center?: boolean; scale?: boolean };
}

/** What AdaBN did. */
export interface AdaptedBatchNorm {
  /** Batch-norm layers whose moving statistics were re-estimated. */
  layers: number;
  /** Target images they were estimated on. */
  images: number;
}

/**
 * A running per-channel mean and (population) variance over batches of any
 * size: Chan et al.'s pairwise update, so the result is the mean and
 * variance of every value seen at once — the batches' means averaged by
 * their sizes, and their variances plus the spread of their means — in
 * float64, whatever the batch sizes.
 */
export class ChannelMoments {
  private count = 0;
  readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(readonly channels: number) {
    this.mean = new Float64Array(channels);
    this.m2 = new Float64Array(channels);
  }

  /** Adds a batch of `count` values per channel with these per-channel means and population variances. */
  add(count: number, mean: ArrayLike<number>, variance: ArrayLike<number>): void {
    if (count <= 0) return;
    const total = this.count + count;
    for (let c = 0; c < this.channels; c++) {
      const delta = mean[c]! - this.mean[c]!;
      this.mean[c] = this.mean[c]! + (delta * count) / total;
      this.m2[c] = this.m2[c]! + variance[c]! * count + (delta * delta * this.count * count) / total;
    }
    this.count = total;
  }

  /** Values seen per channel. */
  get seen(): number {
    return this.count;
  }

  /** The population variance of every value seen, per channel. */
  variance(): Float64Array {
    return this.m2.map((m) => (this.count > 0 ? m / this.count : 0));
  }
}

/** The BatchNormalization layers of a model (nested models included), in order. */
export function batchNormLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return allLayers(model).filter((layer) => layer.getClassName() === 'BatchNormalization');
}

/**
 * AdaBN (Li et al., 2016): every BatchNormalization layer's moving mean and
 * variance re-estimated on the target images; no other weight changes.
 * One pass over all target images, each batch-norm layer normalising with
 * its batch's statistics (as in training) so the layers after it see
 * target-normalised inputs, and accumulating the exact mean and variance of
 * its inputs over the whole target set (not a momentum average, which would
 * weigh the last batches most). Then the moving statistics are set. The
 * layers' own `call` is swapped for the pass and put back after it, so the
 * frozen-batch-norm patch (inference mode everywhere else) holds again.
 */
export async function adaptBatchNorm(
  model: tf.LayersModel,
  target: TargetSource,
  batchSize: number,
  signal?: AbortSignal,
): Promise<AdaptedBatchNorm> {
  const layers = batchNormLayers(model);
  if (layers.length === 0 || target.count === 0) return { layers: 0, images: target.count };
  const moments = new Map<tf.layers.Layer, ChannelMoments>();
  const restore = layers.map((layer) => adaptingCall(layer, moments));
  try {
    for (let start = 0; start < target.count; start += batchSize) {
      if (signal?.aborted) throw signal.reason ?? new Error('aborted');
      const positions = range(start, Math.min(target.count, start + batchSize));
      const batch = await target.batch(positions);
      try {
        // Each patched layer reads its batch moments back synchronously; nothing of the output is kept.
        tf.tidy(() => {
          model.predict(batch, { batchSize: positions.length });
        });
      } finally {
        batch.dispose();
      }
    }
  } finally {
    for (const put of restore) put();
  }
  for (const layer of layers) {
    const stats = moments.get(layer);
    if (!stats) throw new Error(`batch-norm layer ${layer.name} saw no target image: it is not on the model's path`);
    const bn = layer as unknown as BatchNormInternals;
    const shape = bn.movingMean.shape as number[];
    writeVariable(bn.movingMean, Float32Array.from(stats.mean), shape);
    writeVariable(bn.movingVariance, Float32Array.from(stats.variance()), shape);
  }
  return { layers: layers.length, images: target.count };
}

/** Puts a call on the layer that normalises with the batch's moments and records them; returns what puts its own call back. */
function adaptingCall(layer: tf.layers.Layer, moments: Map<tf.layers.Layer, ChannelMoments>): () => void {
  const bn = layer as unknown as BatchNormInternals;
  const own = Object.prototype.hasOwnProperty.call(bn, 'call') ? bn.call : undefined;
  const config = bn.getConfig();
  const epsilon = config.epsilon ?? 1e-3;
  bn.call = (inputs) => {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const axis = normalisedAxis(config.axis, x.rank);
    const reduction = range(0, x.rank).filter((a) => a !== axis);
    const channels = x.shape[axis]!;
    const broadcast = x.shape.map((d, a) => (a === axis ? d : 1));
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, reduction);
      const perChannel = reduction.reduce((n, a) => n * x.shape[a]!, 1);
      const stats = moments.get(layer) ?? new ChannelMoments(channels);
      stats.add(perChannel, mean.dataSync(), variance.dataSync());
      moments.set(layer, stats);
      const gamma = config.scale === false || !bn.gamma ? undefined : bn.gamma.read().reshape(broadcast);
      const beta = config.center === false || !bn.beta ? undefined : bn.beta.read().reshape(broadcast);
      return tf.batchNorm(x, mean.reshape(broadcast), variance.reshape(broadcast), beta, gamma, epsilon);
    });
  };
  return () => {
    if (own) bn.call = own;
    else delete (bn as Partial<BatchNormInternals>).call;
  };
}

function normalisedAxis(axis: number | number[] | undefined, rank: number): number {
  const a = Array.isArray(axis) ? axis[0]! : (axis ?? -1);
  return a < 0 ? rank + a : a;
}

/** Every batch-norm layer's moving mean then moving variance, in layer order, as one array: what the stage cache keeps of an adaptation. */
export function movingStatistics(model: tf.LayersModel): Float32Array {
  const parts = batchNormLayers(model).flatMap((layer) => {
    const bn = layer as unknown as BatchNormInternals;
    return [bn.movingMean.read().dataSync(), bn.movingVariance.read().dataSync()] as Float32Array[];
  });
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/** Values movingStatistics gives for this model. */
export function movingStatisticsLength(model: tf.LayersModel): number {
  return batchNormLayers(model).reduce(
    (n, layer) => n + 2 * variableSize((layer as unknown as BatchNormInternals).movingMean),
    0,
  );
}

/**
 * Whether `values` can be this model's moving statistics: as many as it
 * has, every one finite, every variance non-negative. What the stage cache
 * gives back is checked so before it reaches a model that is exported.
 */
export function plausibleStatistics(model: tf.LayersModel, values: Float32Array): boolean {
  if (values.length !== movingStatisticsLength(model)) return false;
  let at = 0;
  for (const layer of batchNormLayers(model)) {
    const size = variableSize((layer as unknown as BatchNormInternals).movingMean);
    for (let i = at; i < at + 2 * size; i++) if (!Number.isFinite(values[i]!)) return false;
    for (let i = at + size; i < at + 2 * size; i++) if (values[i]! < 0) return false;
    at += 2 * size;
  }
  return true;
}

/** Sets the moving statistics movingStatistics read (of a model of the same layers). */
export function setMovingStatistics(model: tf.LayersModel, values: Float32Array): void {
  if (values.length !== movingStatisticsLength(model))
    throw new Error(`${values.length} moving statistics for a model that has ${movingStatisticsLength(model)}`);
  let at = 0;
  const next = (v: tf.LayerVariable): void => {
    const size = variableSize(v);
    writeVariable(v, values.slice(at, at + size), v.shape as number[]);
    at += size;
  };
  for (const layer of batchNormLayers(model)) {
    const bn = layer as unknown as BatchNormInternals;
    next(bn.movingMean);
    next(bn.movingVariance);
  }
}

const variableSize = (v: tf.LayerVariable): number => (v.shape as number[]).reduce((a, b) => a * b, 1);

/** Writes values into a variable; the variable keeps its own reference, so the tensor written is freed here. */
function writeVariable(v: tf.LayerVariable, values: Float32Array, shape: number[]): void {
  const t = tf.tensor(values, shape);
  v.write(t);
  t.dispose();
}
