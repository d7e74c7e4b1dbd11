import * as tf from '@tensorflow/tfjs';
import type { Plan } from '../plan/types.js';
import type { LabeledImages } from './datasets.js';
import { RunInterrupted } from './errors.js';
import type { EventListener } from './events.js';
import { accuracyOf, confusionMatrix, perClassMetrics, type TestMetrics } from './metrics.js';
import { buildHeadLayers, buildHeadModel, composeModel } from './models.js';
import type { PreparedInputs } from './prepare-inputs.js';
import { imageBatch, oneHotBatch, type Preprocessing } from './preprocess.js';
import { SeededRandom } from './random.js';
import { batchLoss, range, trainStage, type BatchSource, type StageOutcome } from './train.js';

/** Where the engine puts what it produces. The run store implements it; the engine never touches files. */
export interface RunOutput {
  /** A tfjs IO handler that saves to (and loads from) a folder inside the run directory. */
  modelHandler(relativeDir: string): tf.io.IOHandler;
  writeFile(relativePath: string, data: string | Uint8Array): Promise<void>;
}

export interface ExecuteOptions {
  onEvent: EventListener;
  output: RunOutput;
  signal?: AbortSignal;
}

export interface StageSummary extends StageOutcome {
  name: string;
  epochs: number;
}

export interface RunResult {
  backend: string;
  stages: StageSummary[];
  test?: TestMetrics;
  export: { dir: string; verified: boolean; maxAbsDifference: number; probeExamples: number };
  preprocessing: Preprocessing;
}

const INFERENCE_BATCH = 32;
/** How many test examples the exported model is checked on after a save/load round trip (kept in model/probe.json). */
const EXPORT_PROBE_SIZE = 16;

/** Executes a compiled plan: trains every stage, evaluates, exports. */
export async function executePlan(plan: Plan, prepared: PreparedInputs, options: ExecuteOptions): Promise<RunResult> {
  const { onEvent, output, signal } = options;
  const { dataset, selection, base, preprocessing } = prepared;
  const numClasses = plan.classes.count;
  onEvent({ type: 'backend', backend: prepared.backend.name, skipped: prepared.backend.skipped });
  onEvent({ type: 'data', train: selection.train.length, validation: selection.validation.length, test: selection.test.length, numClasses, imageSize: plan.data.image.size });
  onEvent({ type: 'base', model: plan.base.model, cut: plan.base.cut, layers: plan.base.layerCount, params: plan.base.paramCount, outputShape: plan.base.cutOutputShape, seconds: prepared.seconds.base });

  const headLayers = buildHeadLayers(plan.head, plan.seed);
  const applied = plan.features.headLayersApplied;
  // The head as trained: the layers after those folded into feature extraction.
  const headModel = buildHeadModel(headLayers.slice(applied), plan.features.shape);
  const fullModel = composeModel(base, headLayers, plan.pipeline);
  const extractor = composeModel(base, headLayers.slice(0, applied), `${plan.pipeline}_features`);
  const owned: tf.TensorContainer[] = [];
  try {
    const sourceFor = (split: 'train' | 'validation' | 'test'): BatchSource => {
      const images = split === 'test' ? dataset.test! : dataset.train;
      const indexes = selection[split];
      if (plan.features.mode === 'perBatch') return imageSource(images, indexes, preprocessing, numClasses);
      const features = extractFeatures(extractor, images, indexes, preprocessing, split, onEvent, signal);
      const labels = oneHotBatch(images, indexes, numClasses);
      owned.push(features, labels);
      return tensorSource(features, labels);
    };
    // With precomputed features the head learns alone; otherwise the whole (frozen-base) model runs.
    const trained = plan.features.mode === 'precompute' ? headModel : fullModel;
    const train = sourceFor('train');
    const validation = selection.validation.length > 0 ? sourceFor('validation') : undefined;
    const test = selection.test.length > 0 ? sourceFor('test') : undefined;

    const random = new SeededRandom(plan.seed).fork('shuffle');
    const stages: StageSummary[] = [];
    for (const stage of plan.stages) {
      onEvent({ type: 'stage-start', stage: stage.name, index: stage.index, epochs: stage.epochs, firstEpoch: stage.firstEpoch });
      const outcome = await trainStage(trained, stage, { train, ...(validation ? { validation } : {}) }, plan.loss, random, {
        onEvent,
        signal,
        onEpochEnd: async (metrics, optimizer) => {
          const dir = `checkpoints/${stage.name}/epoch-${String(metrics.epoch).padStart(3, '0')}`;
          // The base is frozen and named by the plan's fingerprint; the head is all that changes.
          await headModel.save(output.modelHandler(dir));
          const { data, specs } = await tf.io.encodeWeights(await optimizer.getWeights());
          await output.writeFile(`${dir}/optimizer.bin`, new Uint8Array(data as ArrayBuffer));
          await output.writeFile(`${dir}/trainer-state.json`, JSON.stringify({ stage: stage.name, stageIndex: stage.index, epoch: metrics.epoch, metrics, optimizer: { name: stage.optimizer.name, weightSpecs: specs } }, null, 2));
          onEvent({ type: 'checkpoint', stage: stage.name, epoch: metrics.epoch, dir });
        },
      });
      stages.push({ name: stage.name, epochs: stage.epochs, ...outcome });
      onEvent({ type: 'stage-end', stage: stage.name, epochsRun: outcome.epochsRun, bestEpoch: outcome.bestEpoch, bestValue: outcome.bestValue, monitor: outcome.monitor });
    }

    let testMetrics: TestMetrics | undefined;
    if (test) {
      testMetrics = evaluateTest(trained, test, plan);
      onEvent({ type: 'evaluate-end', test: testMetrics });
    }

    const exported = await exportModel(fullModel, plan, prepared, output);
    onEvent({ type: 'export-end', dir: exported.dir, verified: exported.verified, maxAbsDifference: exported.maxAbsDifference });
    return { backend: prepared.backend.name, stages, ...(testMetrics ? { test: testMetrics } : {}), export: exported, preprocessing };
  } finally {
    tf.dispose(owned);
    headModel.dispose();
  }
}

/** Runs the frozen base (and the head's weightless leading layers) once over a split, in inference mode. */
function extractFeatures(
  extractor: tf.LayersModel, images: LabeledImages, indexes: number[], pre: Preprocessing,
  split: string, onEvent: EventListener, signal?: AbortSignal,
): tf.Tensor {
  const started = performance.now();
  onEvent({ type: 'features-start', split, total: indexes.length });
  const parts: tf.Tensor[] = [];
  try {
    for (let start = 0; start < indexes.length; start += INFERENCE_BATCH) {
      if (signal?.aborted) throw new RunInterrupted();
      const batch = indexes.slice(start, start + INFERENCE_BATCH);
      parts.push(tf.tidy(() => extractor.predict(imageBatch(images, batch, pre)) as tf.Tensor));
      onEvent({ type: 'features-progress', split, done: start + batch.length, total: indexes.length });
    }
    const seconds = (performance.now() - started) / 1000;
    onEvent({ type: 'features-end', split, total: indexes.length, seconds, imagesPerSecond: indexes.length / Math.max(seconds, 1e-9) });
    return tf.concat(parts);
  } finally {
    tf.dispose(parts);
  }
}

function tensorSource(x: tf.Tensor, y: tf.Tensor): BatchSource {
  return {
    count: x.shape[0],
    batch: (positions) => tf.tidy(() => {
      const at = tf.tensor1d(positions, 'int32');
      return { x: tf.gather(x, at), y: tf.gather(y, at) };
    }),
  };
}

function imageSource(images: LabeledImages, indexes: number[], pre: Preprocessing, numClasses: number): BatchSource {
  return {
    count: indexes.length,
    batch: (positions) => {
      const chosen = positions.map((p) => indexes[p]!);
      return { x: imageBatch(images, chosen, pre), y: oneHotBatch(images, chosen, numClasses) };
    },
  };
}

function evaluateTest(model: tf.LayersModel, source: BatchSource, plan: Plan): TestMetrics {
  const actual: number[] = [];
  const predicted: number[] = [];
  let lossSum = 0;
  for (let start = 0; start < source.count; start += INFERENCE_BATCH) {
    const positions = range(start, Math.min(source.count, start + INFERENCE_BATCH));
    const { x, y } = source.batch(positions);
    tf.tidy(() => {
      const pred = model.apply(x, { training: false }) as tf.Tensor;
      lossSum += batchLoss(plan.loss, y, pred).dataSync()[0]! * positions.length;
      actual.push(...tf.argMax(y, -1).dataSync());
      predicted.push(...tf.argMax(pred, -1).dataSync());
    });
    tf.dispose([x, y]);
  }
  const matrix = confusionMatrix(actual, predicted, plan.classes.count);
  return {
    loss: lossSum / source.count,
    accuracy: accuracyOf(matrix),
    examples: source.count,
    perClass: perClassMetrics(matrix, plan.classes.names),
    confusionMatrix: matrix,
  };
}

/**
 * Saves base + head as one LayersModel, then loads it back through the same
 * handler and checks it predicts what the in-memory model predicts.
 */
async function exportModel(model: tf.LayersModel, plan: Plan, prepared: PreparedInputs, output: RunOutput): Promise<RunResult['export']> {
  const dir = 'model';
  await model.save(output.modelHandler(dir));
  await output.writeFile(`${dir}/labels.json`, JSON.stringify(plan.classes.names, null, 2) + '\n');
  await output.writeFile(`${dir}/preprocessing.json`, JSON.stringify(prepared.preprocessing, null, 2) + '\n');

  const { dataset, selection, preprocessing } = prepared;
  const split = selection.test.length > 0 ? 'test' : 'train';
  const indexes = selection[split].slice(0, EXPORT_PROBE_SIZE);
  const probe = imageBatch(split === 'test' ? dataset.test! : dataset.train, indexes, preprocessing);
  const reloaded = await tf.loadLayersModel(output.modelHandler(dir));
  try {
    const expected = tf.tidy(() => model.predict(probe) as tf.Tensor);
    const actual = tf.tidy(() => reloaded.predict(probe) as tf.Tensor);
    const maxAbsDifference = tf.tidy(() => tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0]!);
    // Lets anyone who loads the model elsewhere check their preprocessing reproduces these outputs.
    await output.writeFile(`${dir}/probe.json`, JSON.stringify({ split, indexes, predictions: expected.arraySync() }) + '\n');
    tf.dispose([expected, actual]);
    return { dir, verified: maxAbsDifference === 0, maxAbsDifference, probeExamples: probe.shape[0] };
  } finally {
    probe.dispose();
    reloaded.dispose();
  }
}
