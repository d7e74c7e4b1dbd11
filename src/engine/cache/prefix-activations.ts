import { createHash } from 'node:crypto';
import tf from '../tfjs.cjs';
import { fingerprint } from '../../plan/fingerprint.js';
import type { Plan } from '../../plan/types.js';
import type { EventListener } from '../events.js';
import { ENGINE_VERSIONS, keepInCache, type StageCache } from './stage-cache.js';

/** The stage cache a run keeps activations in, with what their keys, warnings and the rule of what is kept need. */
export interface ActivationsCache {
  cache: StageCache | undefined;
  backend: string;
  onEvent: EventListener;
  /** The model's layers whose weights no stage of the run trains (`untrainedBaseLayers`). */
  untrained: ReadonlySet<string>;
}

/** A run's activations cache: its stage cache, backend and listener, and the base layers its plan never trains. */
export function activationsCache(
  plan: Plan,
  cache: StageCache | undefined,
  backend: string,
  onEvent: EventListener,
): ActivationsCache {
  return { cache, backend, onEvent, untrained: untrainedBaseLayers(plan) };
}

/**
 * The base layers no stage of the plan trains: their weights are the
 * base's as loaded (or as an adaptation without training set them), the
 * same whatever the head or its stages are. The head's layers always
 * train; so do the base layers a fine-tuning stage unfreezes.
 */
export function untrainedBaseLayers(plan: Plan): Set<string> {
  const trained = new Set(plan.stages.flatMap((stage) => stage.trainableBaseLayers));
  return new Set(plan.base.layers.map((layer) => layer.name).filter((name) => !trained.has(name)));
}

/**
 * A model's activations at one of its layers (`prefix`: the model up to
 * it), image by image, kept in the stage cache. The key of an image's entry
 * is what the activations are a function of: the prefix's layers and every
 * weight's bytes, the image's input bytes, and the backend — so a head-only
 * change (new head weights, the same frozen base) reads them back, and any
 * change below the layer (another cut, a fine-tuned base, other
 * preprocessing) computes them again. Each image's activations do not
 * depend on the others in its batch, so entries computed in one batch serve
 * another: the same bits the prefix gives on the batch asked for. Only
 * where no layer of the prefix trains in the run (see the constructor).
 */
export class PrefixActivations {
  private prefixDigest: string | undefined;
  private readonly cache: StageCache | undefined;
  private readonly backend: string;
  private readonly onEvent: EventListener;

  constructor(
    private readonly prefix: tf.LayersModel,
    activations: ActivationsCache,
  ) {
    ({ backend: this.backend, onEvent: this.onEvent } = activations);
    // Kept only when every layer with weights below the explained one is untrained: a layer the run trains
    // (a seed CNN's convolutions in the head, a fine-tuned base) has other weights after any change to the
    // plan, so its entries would be keyed by weights no later run has — written every run, read by none.
    // A prefix without weights (a cut at the input) is cheaper to run than an entry is to read.
    const weighted = prefix.layers.filter((layer) => layer.weights.length > 0);
    const fixed = weighted.length > 0 && weighted.every((layer) => activations.untrained.has(layer.name));
    this.cache = fixed ? activations.cache : undefined;
  }

  /** The prefix's output for `x`, from the cache where it has each image's, computed (in one batch) and kept where not. */
  async of(x: tf.Tensor4D): Promise<tf.Tensor> {
    const { cache } = this;
    if (!cache) return tf.tidy(() => this.prefix.predict(x) as tf.Tensor);
    const n = x.shape[0];
    const keys = this.keys(x);
    const found = await Promise.all(keys.map((key) => cache.readFeatures(key)));
    const shape = (this.prefix.outputs[0]!.shape as number[]).slice(1);
    const size = shape.reduce((a, b) => a * b, 1);
    const usable = (entry: (typeof found)[number]): entry is { shape: number[]; data: Float32Array } =>
      entry !== undefined && entry.data.length === size;
    const missing = found.flatMap((entry, i) => (usable(entry) ? [] : [i]));
    const rows = new Float32Array(n * size);
    found.forEach((entry, i) => usable(entry) && rows.set(entry.data, i * size));
    if (missing.length > 0) {
      const computed = tf.tidy(() => this.prefix.predict(tf.gather(x, missing)) as tf.Tensor);
      const data = (await computed.data()) as Float32Array;
      computed.dispose();
      const entries = missing.map((i, k) => {
        const row = data.subarray(k * size, (k + 1) * size);
        rows.set(row, i * size);
        return { key: keys[i]!, shape: [1, ...shape], data: row.slice() };
      });
      await keepInCache("the images' activations", () => cache.writeManyFeatures(entries), this.onEvent);
    }
    return tf.tensor(rows, [n, ...shape]);
  }

  /** Each image's entry key. */
  private keys(x: tf.Tensor4D): string[] {
    this.prefixDigest ??= modelDigest(this.prefix);
    const values = x.dataSync() as Float32Array;
    const size = values.length / x.shape[0];
    return Array.from({ length: x.shape[0] }, (_, i) => {
      const image = values.subarray(i * size, (i + 1) * size);
      const input = createHash('sha256')
        .update(new Uint8Array(image.buffer, image.byteOffset, image.byteLength))
        .digest('hex');
      return fingerprint({
        activations: this.prefixDigest,
        input,
        shape: x.shape.slice(1),
        backend: this.backend,
        ...ENGINE_VERSIONS,
      });
    });
  }
}

/** sha256 of a model's topology and every weight's name, shape and bytes. */
export function modelDigest(model: tf.LayersModel): string {
  // The layers as configured, not the model's own name (a counter tfjs gives models built in a process).
  const topology = model.toJSON(null, false) as { config?: { name?: string } };
  if (topology.config) delete topology.config.name;
  const hash = createHash('sha256').update(JSON.stringify(topology));
  for (const weight of model.weights) {
    const values = weight.read().dataSync();
    hash.update(`${weight.originalName}:${weight.dtype}:${weight.shape.join('x')}`);
    if (!Array.isArray(values)) hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest('hex');
}
