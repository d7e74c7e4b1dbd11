import * as tf from '@tensorflow/tfjs';
import type { Plan } from '../../plan/types.js';
import { splitSource, type SplitData } from '../data/datasets.js';
import { foldBatchNorm } from '../model/fold-batch-norm.js';
import { FeatureWorkerPool, featureWorkerCount, MIN_EXAMPLES_FOR_WORKERS } from '../workers/feature-pool.js';
import { RunInterrupted } from '../errors.js';
import type { EpochMetrics, EventListener } from '../events.js';
import { augmenter } from '../data/augment.js';
import type { TestMetrics } from '../evaluate/metrics.js';
import { setBatchNormPolicy } from '../model/frozen-batch-norm.js';
import { buildHeadLayers, buildHeadModel, composeModel } from '../model/build-models.js';
import type { PreparedInputs } from '../facts/gather-facts.js';
import { oneHotBatch, type Preprocessing } from '../data/preprocess.js';
import { RandomStreams } from '../random.js';
import { trainScratchBaseline, type BaselineResult } from '../train/scratch-baseline.js';
import { evaluateExamples, exampleSource, modelInput } from '../evaluate/evaluate.js';
import { inferenceBatch } from '../../plan/memory-estimate.js';
import { chunk, prefetched, range, trainStage, type BatchSource, type StageResume } from '../train/train-stage.js';
import { cachedWeights, decodeCachedWeights, featuresKey, pristineBaseState, stageKey, type CachedStage, type StageCache } from '../cache/stage-cache.js';
import { CheckpointWriter, checkpointWeights, readResumePoint, type RunOutput, type StageSummary } from '../train/checkpoints.js';

export type { RunOutput, StageSummary } from '../train/checkpoints.js';

export interface ExecuteOptions {
  onEvent: EventListener;
  output: RunOutput;
  signal?: AbortSignal;
  /** Continue from the run's latest checkpoint (if it has one) instead of starting afresh. */
  resume?: boolean;
  /** Where finished stages and extracted features are kept for later runs; absent: nothing is reused. */
  cache?: StageCache;
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
  /** `baseline: scratch`: the same architecture and stages from random initialisation. */
  baseline?: BaselineResult;
  export: { dir: string; verified: boolean; maxAbsDifference: number; probeExamples: number };
  preprocessing: Preprocessing;
}

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

  const streams = new RandomStreams(plan.seed);
  const headLayers = buildHeadLayers(plan.head, plan.seed, streams);
  const applied = plan.features.headLayersApplied;
  // The head as trained: the layers after those folded into feature extraction.
  const headModel = buildHeadModel(headLayers.slice(applied), plan.features.shape);
  const fullModel = composeModel(base, headLayers, plan.pipeline);
  const extractor = composeModel(base, headLayers.slice(0, applied), `${plan.pipeline}_features`);
  const owned: tf.TensorContainer[] = [];
  let workers: Promise<FeatureWorkerPool> | undefined;
  let folded: tf.LayersModel | undefined;
  try {
    // Only training batches are augmented, from their own seeded stream.
    const augment = plan.augment ? augmenter(plan.augment, streams.get('augment')) : undefined;
    const shuffle = streams.get('shuffle');
    const splits = (['train', 'validation', 'test'] as const).filter((split) => selection[split].length > 0);
    const examples = Object.fromEntries(
      splits.map((split) => [split, exampleSource(splitSource(dataset, split), selection[split], preprocessing, numClasses, split === 'train' ? augment : undefined)]),
    ) as Partial<Record<'train' | 'validation' | 'test', BatchSource>>;

    // The head trains on the base's features, computed in inference mode outside the gradient
    // tape: once and stored (precompute), or per batch. Stored features go stale when a stage
    // fine-tunes the base, and are computed again for the next head-only stage.
    let features: typeof examples | undefined;
    const storedFeatures: tf.Tensor[] = [];
    owned.push(storedFeatures);
    // What the base is now: the plan's, or as the last fine-tuning stage left it; it names cached features.
    let baseState = pristineBaseState(plan);
    const backendName = prepared.backend.name;
    // Inference batches small enough for the heap at any image size.
    const batch = inferenceBatch(plan.base.layers);
    // The base as it is now, batch norm folded into its convolutions: the same function, faster.
    const foldedExtractor = async (): Promise<tf.LayersModel> => {
      if (folded && folded !== extractor) folded.dispose();
      folded = await foldBatchNorm(extractor);
      return folded;
    };
    const featureSources = async (): Promise<typeof examples> => {
      if (features) return features;
      const out: typeof examples = {};
      // Folded only when this thread extracts: not for features from the cache or the workers.
      let fast: tf.LayersModel | undefined;
      for (const split of splits) {
        if (plan.features.mode === 'perBatch') {
          out[split] = featureSource((fast ??= await foldedExtractor()), examples[split]!);
          continue;
        }
        const key = featuresKey(plan, baseState, split, backendName);
        const cached = await options.cache?.readFeatures(key);
        let stored: tf.Tensor;
        if (cached && cached.shape[0] === examples[split]!.count) {
          stored = tf.tensor(cached.data, cached.shape);
          onEvent({ type: 'features-reused', split, total: examples[split]!.count });
        } else if (pool() && baseState === pristineBaseState(plan)) {
          stored = await extractFeaturesInWorkers((await pool())!, splitSource(dataset, split), selection[split], split, batch, onEvent, signal);
          await options.cache?.writeFeatures(key, stored.shape, (await stored.data()) as Float32Array);
        } else {
          stored = await extractFeatures((fast ??= await foldedExtractor()), examples[split]!, split, batch, onEvent, signal);
          await options.cache?.writeFeatures(key, stored.shape, (await stored.data()) as Float32Array);
        }
        const labels = oneHotBatch(splitSource(dataset, split).labels, selection[split], numClasses);
        storedFeatures.push(stored, labels);
        out[split] = tensorSource(stored, labels);
      }
      return (features = out);
    };
    let baseChanged = false;
    // Feature workers (one wasm backend each) when there are enough images to repay starting them.
    const workerCount = featureWorkerCount();
    const useWorkers = plan.features.mode === 'precompute' && prepared.backend.name === 'wasm' && workerCount > 1 && prepared.baseArtifacts !== undefined
      && preprocessing.kind === 'image' && selection.train.length + selection.validation.length + selection.test.length >= MIN_EXAMPLES_FOR_WORKERS;
    const pool = (): Promise<FeatureWorkerPool> | undefined => {
      if (!useWorkers || preprocessing.kind !== 'image') return undefined;
      workers ??= FeatureWorkerPool.start(workerCount, { artifacts: prepared.baseArtifacts!, cut: plan.base.cut, inputShape: [...preprocessing.inputSize, 3], folded: plan.head.slice(0, applied), pre: preprocessing });
      return workers;
    };
    // Every epoch's metrics so far, for the stage cache.
    const history: EpochMetrics[] = [];
    const record: EventListener = (event) => {
      if (event.type === 'epoch-end') history.push(event.metrics);
      onEvent(event);
    };

    // Resuming a run that died before its first checkpoint starts it over, in the same directory.
    let resumePoint = options.resume ? await readResumePoint(output) : undefined;
    const checkpoints = new CheckpointWriter(output, plan.checkpoints, resumePoint?.index);
    const stages: StageSummary[] = [...(resumePoint?.state.completedStages ?? [])];
    if (resumePoint) streams.restore(resumePoint.state.random);

    // The longest run of leading stages an earlier run finished with the same plan: their weights,
    // random streams and metrics are taken as they are, and training starts after them.
    let reused = 0;
    let reusedStage: CachedStage | undefined;
    if (options.cache && !resumePoint) {
      for (const stage of plan.stages) {
        const cached = await options.cache.readStage(stageKey(stage, backendName));
        if (!cached) break;
        reusedStage = cached;
        reused++;
      }
    }
    if (reusedStage) {
      (reusedStage.kind === 'full' ? fullModel : headModel).loadWeights(decodeCachedWeights(reusedStage));
      streams.restore(reusedStage.random);
      stages.push(...reusedStage.completedStages);
      for (const metrics of reusedStage.metrics) record({ type: 'epoch-end', metrics: { ...metrics, reused: true } });
    }

    for (const stage of plan.stages) {
      const trainsBase = stage.trainable === 'base+head';
      if (trainsBase) {
        // Stored features describe the base before this stage changes it: free them now.
        tf.dispose(storedFeatures.splice(0));
        features = undefined;
        baseChanged = true;
      }
      if (trainsBase) baseState = stage.fingerprint;
      // Stages a resumed run had finished: their result is in the checkpoint's weights.
      if (resumePoint && stage.index < resumePoint.state.stageIndex) continue;
      if (stage.index < reused) {
        onEvent({ type: 'stage-reused', stage: stage.name, epochs: stages[stage.index]?.epochsRun ?? stage.epochs });
        continue;
      }
      const trainable = new Set(stage.trainableBaseLayers);
      for (const layer of base.layers) layer.trainable = trainable.has(layer.name);
      setBatchNormPolicy(base, stage.batchNorm);
      // Fine-tuning runs images through the whole model; otherwise the head learns on features.
      const model = trainsBase ? fullModel : headModel;
      // A checkpoint holds the head alone while the base is the plan's; once a stage has changed it, base and head.
      const kind = baseChanged ? 'full' : 'head';
      let resume: StageResume | undefined;
      if (resumePoint) {
        const { state, dir, index } = resumePoint;
        (state.model === 'full' ? fullModel : headModel).loadWeights(await checkpointWeights(output, dir));
        const restorable = stage.earlyStopping?.restoreBest && index.stageBest?.stage === stage.name;
        resume = { state: state.stageState, optimizers: resumePoint.optimizers, ...(restorable ? { bestWeights: await checkpointWeights(output, index.stageBest!.dir) } : {}) };
        onEvent({ type: 'log', level: 'info', message: `resumed from ${dir} (stage ${stage.name}, epoch ${state.epoch})` });
        resumePoint = undefined;
      }
      const sources = trainsBase ? examples : await featureSources();
      onEvent({ type: 'stage-start', stage: stage.name, index: stage.index, epochs: stage.epochs, firstEpoch: stage.firstEpoch });
      const data = { train: sources.train!, ...(sources.validation ? { validation: sources.validation } : {}) };
      const outcome = await trainStage(model, stage, data, plan.loss, shuffle, {
        onEvent: record,
        signal,
        onEpochEnd: async (end) => {
          const saved = await checkpoints.afterEpoch(end, { stage, model: kind === 'full' ? fullModel : headModel, kind, random: streams.snapshot(), completedStages: stages });
          if (saved) onEvent({ type: 'checkpoint', stage: stage.name, epoch: end.metrics.epoch, dir: saved });
        },
      }, resume);
      stages.push({ name: stage.name, epochs: stage.epochs, ...outcome });
      // A resumed run lacks the metrics of epochs before it resumed, so it leaves nothing to reuse.
      if (options.cache && !options.resume) {
        const finished = kind === 'full' ? fullModel : headModel;
        await options.cache.writeStage(stageKey(stage, backendName), { kind, ...(await cachedWeights(finished)), random: streams.snapshot(), completedStages: [...stages], metrics: [...history] });
      }
      onEvent({ type: 'stage-end', stage: stage.name, epochsRun: outcome.epochsRun, stoppedEarly: outcome.stoppedEarly, ...(outcome.restoredEpoch !== undefined ? { restoredEpoch: outcome.restoredEpoch } : {}) });
    }
    for (const layer of base.layers) layer.trainable = false;

    const test = examples.test ? (baseChanged && !features ? examples.test : (await featureSources()).test) : undefined;
    const evaluated = baseChanged && !features ? fullModel : headModel;
    let testMetrics: TestMetrics | undefined;
    if (test) {
      testMetrics = await evaluateExamples(evaluated, test, plan.loss, plan.classes.names, selection.test.map((i) => splitSource(dataset, 'test').name(i)), batch);
      onEvent({ type: 'evaluate-end', test: testMetrics });
    }

    let baseline: BaselineResult | undefined;
    if (plan.baseline === 'scratch') {
      onEvent({ type: 'baseline-start', epochs: plan.stages.reduce((n, s) => n + s.epochs, 0) });
      baseline = await trainScratchBaseline(plan, base, examples as { train: BatchSource }, selection.test.map((i) => splitSource(dataset, 'test').name(i)), onEvent, signal);
      onEvent({ type: 'baseline-end', ...(baseline.test ? { test: baseline.test } : {}) });
    }

    const exported = await exportModel(fullModel, plan, prepared, output);
    onEvent({ type: 'export-end', dir: exported.dir, verified: exported.verified, maxAbsDifference: exported.maxAbsDifference });
    const data: RunResult['data'] = {
      counts: { train: selection.train.length, validation: selection.validation.length, test: selection.test.length },
      storage: dataset.storage,
      skipped: dataset.skipped,
      ignored: dataset.ignored.length,
    };
    return { backend: prepared.backend.name, data, stages, ...(testMetrics ? { test: testMetrics } : {}), ...(baseline ? { baseline } : {}), export: exported, preprocessing };
  } finally {
    tf.dispose(owned);
    headModel.dispose();
    if (folded && folded !== extractor) folded.dispose();
    await (await workers?.catch(() => undefined))?.close();
  }
}

/** As extractFeatures, with the base running in worker threads over the split's raw pixels. */
async function extractFeaturesInWorkers(pool: FeatureWorkerPool, split: SplitData, indexes: number[], name: string, batch: number, onEvent: EventListener, signal?: AbortSignal): Promise<tf.Tensor> {
  const started = performance.now();
  onEvent({ type: 'features-start', split: name, total: indexes.length });
  const features = await pool.extract(split, indexes, batch, (done) => onEvent({ type: 'features-progress', split: name, done, total: indexes.length }), () => signal?.aborted === true);
  if (signal?.aborted) {
    features.dispose();
    throw new RunInterrupted();
  }
  const seconds = (performance.now() - started) / 1000;
  onEvent({ type: 'features-end', split: name, total: indexes.length, seconds, imagesPerSecond: indexes.length / Math.max(seconds, 1e-9) });
  return features;
}

/** Runs the frozen base (and the head's weightless leading layers) once over a split, in inference mode. */
async function extractFeatures(extractor: tf.LayersModel, examples: BatchSource, split: string, batch: number, onEvent: EventListener, signal?: AbortSignal): Promise<tf.Tensor> {
  const started = performance.now();
  onEvent({ type: 'features-start', split, total: examples.count });
  const parts: tf.Tensor[] = [];
  try {
    let done = 0;
    for await (const { x, y } of prefetched(examples, chunk(range(0, examples.count), batch))) {
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
