/**
 * A worker thread that runs the frozen base over batches of raw pixels and
 * returns their features (or, asked for a `prefix`, the unfolded base up to
 * that layer: a fine-tuning stage's frozen prefix). tfjs's wasm backend is single-threaded under Node,
 * so a second worker is how feature extraction uses a second core. Each
 * worker has its own wasm backend and its own copy of the base, built from
 * the same artifacts and cut, so its features are the main thread's, bit
 * for bit.
 */
import { parentPort, workerData } from 'node:worker_threads';
import tf from '../tfjs.cjs';
import type { ResolvedHeadLayer } from '../../plan/types.js';
import { selectBackend } from '../kernels/backend.js';
import { foldBatchNorm } from '../model/fold-batch-norm.js';
import { buildBase, buildHeadLayers, composeModel } from '../model/build-models.js';
import { imageBatch, type ImagePreprocessing } from '../data/preprocess.js';
import type { ModelArtifacts } from '../model/zoo.js';

export interface FeatureWorkerData {
  artifacts: ModelArtifacts;
  cut: string;
  inputShape: number[];
  /** The weightless head layers folded into extraction (pooling, flatten). */
  folded: ResolvedHeadLayer[];
  pre: ImagePreprocessing;
}
export interface FeatureRequest {
  id: number;
  pixels: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
  prefix?: string;
}
export type FeatureReply = { id: number; features: Float32Array; shape: number[] } | { id: number; error: string };

const data = workerData as FeatureWorkerData;
await selectBackend('wasm');
const base = await buildBase(data.artifacts, data.cut, data.inputShape);
// Folded as on the main thread, so both compute the same features.
const extractor = await foldBatchNorm(composeModel(base, buildHeadLayers(data.folded, 0), 'worker_features'));
// Prefixes unfolded, as the main thread computes them (its whole model's batch norm as it trains): the same bits.
const prefixes = new Map<string, tf.LayersModel>();
// Answers every request, an error included, so the promise never rejects and the listener need not await it.
parentPort!.on('message', (request: FeatureRequest) => void answer(request));

async function answer(request: FeatureRequest): Promise<void> {
  try {
    // Pixels as the dataset holds them (a digit's 28×28×1, say); imageBatch resizes and normalises as on the main thread.
    const { pixels, count, height, width, channels, prefix } = request;
    let model = extractor;
    if (prefix) {
      if (!prefixes.has(prefix)) prefixes.set(prefix, await buildBase(data.artifacts, prefix, data.inputShape));
      model = prefixes.get(prefix)!;
    }
    const features = tf.tidy(
      () => model.predict(imageBatch({ data: pixels, count, height, width, channels }, data.pre)) as tf.Tensor,
    );
    const values = features.dataSync() as Float32Array;
    const reply: FeatureReply = { id: request.id, features: values, shape: features.shape };
    features.dispose();
    parentPort!.postMessage(reply, [values.buffer as ArrayBuffer]);
  } catch (error) {
    parentPort!.postMessage({ id: request.id, error: (error as Error).message } satisfies FeatureReply);
  }
}
parentPort!.postMessage({ ready: true });
