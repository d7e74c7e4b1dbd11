import * as tf from '@tensorflow/tfjs';
import type { Plan } from '../plan/types.js';
import { splitSource, type SplitData } from './datasets.js';
import { RunInterrupted } from './errors.js';
import type { EventListener } from './events.js';
import { augmenter } from './augment.js';
import { testMetrics, type TestMetrics } from './metrics.js';
import { setBatchNormPolicy } from './frozen-batch-norm.js';
import { buildHeadLayers, buildHeadModel, composeModel } from './models.js';
import type { PreparedInputs } from './prepare-inputs.js';
import { imageBatch, oneHotBatch, vectorBatch, type Preprocessing } from './preprocess.js';
import { SeededRandom } from './random.js';
import { batchLoss, chunk, prefetched, range, trainStage, type BatchSource, type StageOutcome } from './train.js';

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
  data: {
    counts: { train: number; validation: number; test: number };
    storage: 'memory' | 'streaming';
    skipped: { file: string; reason: string }[];
    ignored: number;
  };
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
  onEvent({
    type: 'data', train: selection.train.length, validation: selection.validation.length, test: selection.test.length, numClasses,
    input: preprocessing.kind === 'tabular' ? `${preprocessing.columns.length} features` : `${preprocessing.inputSize.join('×')} images`, skipped: dataset.skipped.length, ignored: dataset.ignored.length, storage: dataset.storage,
  });
  for (const { file, reason } of dataset.skipped) onEvent({ type: 'log', level: 'warn', message: `skipped ${file}: ${reason}` });
  onEvent({ type: 'base', model: plan.base.model, cut: plan.base.cut, layers: plan.base.layerCount, params: plan.base.paramCount, outputShape: plan.base.cutOutputShape, seconds: prepared.seconds.base });

  const headLayers = buildHeadLayers(plan.head, plan.seed);
  const applied = plan.features.headLayersApplied;
  // The head as trained: the layers after those folded into feature extraction.
  const headModel = buildHeadModel(headLayers.slice(applied), plan.features.shape);
  const fullModel = composeModel(base, headLayers, plan.pipeline);
  const extractor = composeModel(base, headLayers.slice(0, applied), `${plan.pipeline}_features`);
  const owned: tf.TensorContainer[] = [];
  try {
    // Only training batches are augmented, from their own seeded stream.
    const augment = plan.augment ? augmenter(plan.augment, new SeededRandom(plan.seed).fork('augment')) : undefined;
    const splits = (['train', 'validation', 'test'] as const).filter((split) => selection[split].length > 0);
    const examples = Object.fromEntries(
      splits.map((split) => [split, exampleSource(splitSource(dataset, split), selection[split], preprocessing, numClasses, split === 'train' ? augment : undefined)]),
    ) as Partial<Record<'train' | 'validation' | 'test', BatchSource>>;

    // The head trains on the base's features, computed in inference mode outside the gradient
    // tape: once and stored (precompute), or per batch. Stored features go stale when a stage
    // fine-tunes the base, and are computed again for the next head-only stage.
    let features: typeof examples | undefined;
    const featureSources = async (): Promise<typeof examples> => {
      if (features) return features;
      const out: typeof examples = {};
      for (const split of splits) {
        if (plan.features.mode === 'perBatch') {
          out[split] = featureSource(extractor, examples[split]!);
          continue;
        }
        const stored = await extractFeatures(extractor, examples[split]!, split, onEvent, signal);
        const labels = oneHotBatch(splitSource(dataset, split).labels, selection[split], numClasses);
        owned.push(stored, labels);
        out[split] = tensorSource(stored, labels);
      }
      return (features = out);
    };
    let baseChanged = false;

    const random = new SeededRandom(plan.seed).fork('shuffle');
    const stages: StageSummary[] = [];
    for (const stage of plan.stages) {
      const trainsBase = stage.trainable === 'base+head';
      const trainable = new Set(stage.trainableBaseLayers);
      for (const layer of base.layers) layer.trainable = trainable.has(layer.name);
      setBatchNormPolicy(base, stage.batchNorm);
      if (trainsBase) {
        features = undefined;
        baseChanged = true;
      }
      // Fine-tuning runs images through the whole model; otherwise the head learns on features.
      const model = trainsBase ? fullModel : headModel;
      const sources = trainsBase ? examples : await featureSources();
      onEvent({ type: 'stage-start', stage: stage.name, index: stage.index, epochs: stage.epochs, firstEpoch: stage.firstEpoch });
      const outcome = await trainStage(model, stage, { train: sources.train!, ...(sources.validation ? { validation: sources.validation } : {}) }, { kind: plan.loss, classWeights: plan.classWeights }, random, {
        onEvent,
        signal,
        onEpochEnd: async (metrics, optimizer) => {
          const dir = `checkpoints/${stage.name}/epoch-${String(metrics.epoch).padStart(3, '0')}`;
          // A frozen base is named by the plan's fingerprint, so a head-only stage saves the head;
          // a fine-tuning stage changes the base and saves the whole model.
          await (trainsBase ? fullModel : headModel).save(output.modelHandler(dir));
          const { data, specs } = await tf.io.encodeWeights(await optimizer.getWeights());
          await output.writeFile(`${dir}/optimizer.bin`, new Uint8Array(data as ArrayBuffer));
          await output.writeFile(`${dir}/trainer-state.json`, JSON.stringify({ stage: stage.name, stageIndex: stage.index, epoch: metrics.epoch, model: trainsBase ? 'full' : 'head', metrics, optimizer: { name: stage.optimizer.name, weightSpecs: specs } }, null, 2));
          onEvent({ type: 'checkpoint', stage: stage.name, epoch: metrics.epoch, dir });
        },
      });
      stages.push({ name: stage.name, epochs: stage.epochs, ...outcome });
      onEvent({ type: 'stage-end', stage: stage.name, epochsRun: outcome.epochsRun, bestEpoch: outcome.bestEpoch, bestValue: outcome.bestValue, monitor: outcome.monitor });
    }
    for (const layer of base.layers) layer.trainable = false;

    const test = examples.test ? (baseChanged && !features ? examples.test : (await featureSources()).test) : undefined;
    const evaluated = baseChanged && !features ? fullModel : headModel;
    let testMetrics: TestMetrics | undefined;
    if (test) {
      testMetrics = await evaluateTest(evaluated, test, plan, selection.test.map((i) => splitSource(dataset, 'test').name(i)));
      onEvent({ type: 'evaluate-end', test: testMetrics });
    }

    const exported = await exportModel(fullModel, plan, prepared, output);
    onEvent({ type: 'export-end', dir: exported.dir, verified: exported.verified, maxAbsDifference: exported.maxAbsDifference });
    const data: RunResult['data'] = {
      counts: { train: selection.train.length, validation: selection.validation.length, test: selection.test.length },
      storage: dataset.storage,
      skipped: dataset.skipped,
      ignored: dataset.ignored.length,
    };
    return { backend: prepared.backend.name, data, stages, ...(testMetrics ? { test: testMetrics } : {}), export: exported, preprocessing };
  } finally {
    tf.dispose(owned);
    headModel.dispose();
  }
}

/** Runs the frozen base (and the head's weightless leading layers) once over a split, in inference mode. */
async function extractFeatures(extractor: tf.LayersModel, examples: BatchSource, split: string, onEvent: EventListener, signal?: AbortSignal): Promise<tf.Tensor> {
  const started = performance.now();
  onEvent({ type: 'features-start', split, total: examples.count });
  const parts: tf.Tensor[] = [];
  try {
    let done = 0;
    for await (const { x, y } of prefetched(examples, chunk(range(0, examples.count), INFERENCE_BATCH))) {
      parts.push(tf.tidy(() => extractor.predict(x) as tf.Tensor));
      done += x.shape[0]!;
      tf.dispose([x, y]);
      if (signal?.aborted) throw new RunInterrupted();
      onEvent({ type: 'features-progress', split, done, total: examples.count });
    }
    const seconds = (performance.now() - started) / 1000;
    onEvent({ type: 'features-end', split, total: examples.count, seconds, imagesPerSecond: examples.count / Math.max(seconds, 1e-9) });
    return tf.concat(parts);
  } finally {
    tf.dispose(parts);
  }
}

function tensorSource(x: tf.Tensor, y: tf.Tensor): BatchSource {
  return {
    count: x.shape[0],
    batch: async (positions) => tf.tidy(() => {
      const at = tf.tensor1d(positions, 'int32');
      return { x: tf.gather(x, at), y: tf.gather(y, at) };
    }),
  };
}

/**
 * The frozen base's features for each batch of `examples`, computed in
 * inference mode outside any gradient tape, so a training step holds no
 * activations of the base.
 */
function featureSource(extractor: tf.LayersModel, examples: BatchSource): BatchSource {
  return {
    count: examples.count,
    batch: async (positions) => {
      const { x, y } = await examples.batch(positions);
      const features = tf.tidy(() => extractor.predict(x) as tf.Tensor);
      x.dispose();
      return { x: features, y };
    },
  };
}

/** Examples `indexes` of `data` as model inputs, decoded and preprocessed (and augmented) per batch. */
function exampleSource(data: SplitData, indexes: number[], pre: Preprocessing, numClasses: number, augment?: (x: tf.Tensor4D) => tf.Tensor4D): BatchSource {
  return {
    count: indexes.length,
    batch: async (positions) => {
      const chosen = positions.map((p) => indexes[p]!);
      return { x: await modelInput(data, chosen, pre, augment), y: oneHotBatch(data.labels, chosen, numClasses) };
    },
  };
}

/** The model's input for some examples: preprocessed pixels, or standardised feature rows. */
export async function modelInput(data: SplitData, indexes: number[], pre: Preprocessing, augment?: (x: tf.Tensor4D) => tf.Tensor4D): Promise<tf.Tensor> {
  return pre.kind === 'tabular' ? vectorBatch(await data.vectors!(indexes), pre) : imageBatch(await data.pixels(indexes), pre, augment);
}

/** How many of the test examples the model got most wrong are listed in summary.json. */
const WORST_EXAMPLES = 20;

async function evaluateTest(model: tf.LayersModel, source: BatchSource, plan: Plan, names: string[]): Promise<TestMetrics> {
  const actual: number[] = [];
  const probabilities: number[][] = [];
  let lossSum = 0;
  for await (const { positions, x, y } of prefetched(source, chunk(range(0, source.count), INFERENCE_BATCH))) {
    tf.tidy(() => {
      const output = model.apply(x, { training: false }) as tf.Tensor;
      lossSum += batchLoss(plan.loss, y, output).dataSync()[0]! * positions.length;
      actual.push(...tf.argMax(y, -1).dataSync());
      probabilities.push(...((plan.loss === 'categoricalCrossentropy' ? output : tf.softmax(output)).arraySync() as number[][]));
    });
    tf.dispose([x, y]);
  }
  return testMetrics(actual, probabilities, lossSum / source.count, plan.classes.names, names, WORST_EXAMPLES);
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
  const source = splitSource(dataset, split);
  const probe = await modelInput(source, indexes, preprocessing);
  const reloaded = await tf.loadLayersModel(output.modelHandler(dir));
  try {
    const expected = tf.tidy(() => model.predict(probe) as tf.Tensor);
    const actual = tf.tidy(() => reloaded.predict(probe) as tf.Tensor);
    const maxAbsDifference = tf.tidy(() => tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0]!);
    // Lets anyone who loads the model elsewhere check their preprocessing reproduces these outputs.
    const examples = indexes.map((index) => source.name(index));
    await output.writeFile(`${dir}/probe.json`, JSON.stringify({ split, indexes, examples, predictions: expected.arraySync() }) + '\n');
    tf.dispose([expected, actual]);
    return { dir, verified: maxAbsDifference === 0, maxAbsDifference, probeExamples: probe.shape[0] };
  } finally {
    probe.dispose();
    reloaded.dispose();
  }
}
