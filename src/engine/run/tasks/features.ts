import tf from '../../tfjs.cjs';
import { inferenceBatch } from '../../../plan/memory-estimate.js';
import type { FeaturesTask } from '../../../plan/types.js';
import { featuresKey, keepInCache, readOrCompute } from '../../cache/stage-cache.js';
import { splitSource, type SplitData } from '../../data/datasets.js';
import { exampleSource } from '../../evaluate/evaluate.js';
import { oneHotBatch } from '../../data/preprocess.js';
import { RunInterrupted } from '../../errors.js';
import type { EventListener } from '../../events.js';
import { foldBatchNorm } from '../../model/fold-batch-norm.js';
import { chunk, prefetched, range, type BatchSource } from '../../data/batches.js';
import { FeatureWorkerPool, featureWorkerCount, MIN_EXAMPLES_FOR_WORKERS } from '../../workers/feature-pool.js';
import type { RunContext, RunPlanOptions } from '../run-context.js';
import type { Features, SplitSources, TaskInputs } from '../task-results.js';

/** Examples' features as rows of one Float32Array, outside the wasm heap. */
type Rows = { shape: number[]; data: Float32Array };

/** What extracting features uses of a run: a run's context, or the data audit's (which trains nothing). */
export type FeaturesContext = Pick<RunContext, 'plan' | 'inputs' | 'models' | 'featureWorkers'> & {
  options: Pick<RunPlanOptions, 'onEvent' | 'signal' | 'cache'>;
};

/**
 * The base's features for every split, computed in inference mode outside
 * the gradient tape. precompute: once per example, from the stage cache
 * when an earlier run stored them, else in worker threads (the plan's own
 * base) or on this thread, then stored; perBatch: for every batch.
 */
export async function runFeaturesTask(
  task: FeaturesTask,
  { data }: TaskInputs['features'],
  run: FeaturesContext,
): Promise<Features> {
  if (task.boundary) return runPrefixTask(task, task.boundary, data, run);
  const { plan, inputs, options } = run;
  const backend = inputs.backend.name;
  const sources: SplitSources = {};
  const tensors: tf.Tensor[] = [];
  // Inference batches small enough for the heap at any image size.
  const batch = inferenceBatch(plan.base.layers);
  // Folded only when this thread extracts: not for features from the cache or the workers.
  let folded: tf.LayersModel | undefined;
  const extractor = async (): Promise<tf.LayersModel> => (folded ??= await foldBatchNorm(run.models.extractor));
  const fold = task.mode === 'precompute' ? inputs.fold : undefined;
  let pool: Rows | undefined;
  /** One set of examples' features: from the stage cache, else extracted (in workers when they pay) and kept there. */
  const storedFeatures = async (
    name: string,
    source: SplitData,
    indexes: number[],
    examples: BatchSource,
  ): Promise<Rows> => {
    const key = featuresKey(task, name, backend, indexes);
    const { value, reused } = await readOrCompute(
      options.cache,
      { kind: 'features', key, what: `the ${name} features` },
      async (cache) => {
        const cached = await cache.readFeatures(key);
        return cached && cached.shape[0] === indexes.length ? cached : undefined;
      },
      async () => {
        const workers = workerPool(task, run);
        const computed = workers
          ? await extractInWorkers(await workers, source, indexes, name, batch, options.onEvent, options.signal)
          : await extractOnThisThread(await extractor(), examples, name, batch, options.onEvent, options.signal);
        if (options.cache) {
          const { cache } = options;
          await keepInCache(
            `the ${name} features`,
            () => cache.writeFeatures(key, computed.shape, computed.data),
            options.onEvent,
          );
        }
        return computed;
      },
      options,
    );
    if (reused) options.onEvent({ type: 'features-reused', split: name, total: indexes.length });
    return value;
  };
  try {
    for (const [split, examples] of Object.entries(data) as [keyof SplitSources, BatchSource][]) {
      // Validation on the test split: the test split's features, computed once (below).
      if (split === 'validation' && inputs.dataset.validationFrom === 'test') continue;
      if (task.mode === 'perBatch') {
        sources[split] = featureSource(await extractor(), examples);
        continue;
      }
      const labels = oneHotBatch(
        splitSource(inputs.dataset, split).labels,
        inputs.selection[split],
        plan.classes.count,
      );
      tensors.push(labels);
      if (fold && split !== 'test') {
        // One fold of k: the pool of train+validation is extracted (or read) once under a key no fold changes, and each fold takes its rows.
        const trainSplit = splitSource(inputs.dataset, 'train');
        pool ??= await storedFeatures('pool', trainSplit, fold.pool, poolExamples(run, trainSplit, fold.pool));
        sources[split] = rowSource(pool, labels, split === 'train' ? fold.trainAt : fold.validationAt);
      } else
        sources[split] = rowSource(
          await storedFeatures(split, splitSource(inputs.dataset, split), inputs.selection[split], examples),
          labels,
        );
    }
  } catch (error) {
    disposeFeatures(tensors, folded, run.models.extractor);
    throw error;
  }
  if (inputs.dataset.validationFrom === 'test' && sources.test) sources.validation = sources.test;
  return { task: task.id, sources, dispose: () => disposeFeatures(tensors, folded, run.models.extractor) };
}

/** The pool of a fold's train+validation examples as model inputs, in the pool's order (never augmented: features are of the images as they are). */
function poolExamples(run: FeaturesContext, train: SplitData, pool: number[]): BatchSource {
  return exampleSource(train, pool, run.inputs.preprocessing, run.plan.classes.count);
}

/** Frees features' tensors, and the folded copy of the model they came from (the model itself when nothing folded, which is the run's). */
function disposeFeatures(tensors: tf.Tensor[], folded: tf.LayersModel | undefined, model: tf.LayersModel): void {
  tf.dispose(tensors);
  if (folded && folded !== model) folded.dispose();
}

/** Feature workers (one wasm backend each) for a task over the plan's own base, when there are enough images to repay starting them. */
function workerPool(task: FeaturesTask, run: FeaturesContext): Promise<FeatureWorkerPool> | undefined {
  const { plan, inputs } = run;
  const { preprocessing, selection, artifacts } = inputs;
  const count = featureWorkerCount();
  const examples = selection.train.length + selection.validation.length + (task.boundary ? 0 : selection.test.length);
  if (
    !task.pristine ||
    task.mode !== 'precompute' ||
    inputs.backend.name !== 'wasm' ||
    count <= 1 ||
    !artifacts ||
    preprocessing.kind !== 'image' ||
    examples < MIN_EXAMPLES_FOR_WORKERS
  )
    return undefined;
  return run.featureWorkers.get(() =>
    FeatureWorkerPool.start(count, {
      artifacts,
      cut: plan.base.cut,
      inputShape: [...preprocessing.inputSize, preprocessing.channels],
      folded: plan.head.slice(0, plan.features.headLayersApplied),
      pre: preprocessing,
    }),
  );
}

/**
 * As extractOnThisThread (or, with `at`, rowsOf a frozen prefix ending at
 * that layer), in the worker threads over the split's raw pixels: the plan's
 * own base, unchanged by any stage. Rows of one Float32Array.
 */
async function extractInWorkers(
  pool: FeatureWorkerPool,
  split: SplitData,
  indexes: number[],
  name: string,
  batch: number,
  onEvent: EventListener,
  signal?: AbortSignal,
  at?: string,
): Promise<Rows> {
  const started = performance.now();
  const where = at ? { at } : {};
  onEvent({ type: 'features-start', split: name, total: indexes.length, ...where });
  const rows = await pool.rows(
    split,
    indexes,
    batch,
    (done) => onEvent({ type: 'features-progress', split: name, done, total: indexes.length, ...where }),
    () => signal?.aborted === true,
    at,
  );
  const seconds = (performance.now() - started) / 1000;
  onEvent({
    type: 'features-end',
    split: name,
    total: indexes.length,
    seconds,
    imagesPerSecond: indexes.length / Math.max(seconds, 1e-9),
    ...where,
    workers: pool.size,
  });
  return rows;
}

/** Runs the frozen base (and the head's weightless leading layers) once over a split, in inference mode. */
async function extractOnThisThread(
  extractor: tf.LayersModel,
  examples: BatchSource,
  split: string,
  batch: number,
  onEvent: EventListener,
  signal?: AbortSignal,
): Promise<Rows> {
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
    onEvent({
      type: 'features-end',
      split,
      total: examples.count,
      seconds,
      imagesPerSecond: examples.count / Math.max(seconds, 1e-9),
    });
    const all = tf.concat(parts);
    try {
      return { shape: all.shape, data: (await all.data()) as Float32Array };
    } finally {
      all.dispose();
    }
  } finally {
    tf.dispose(parts);
  }
}

/**
 * A fine-tuning stage's frozen prefix over the training and validation
 * splits. precompute: run once per example in inference mode with its batch
 * norm as the whole model runs it (so the stage trains on the very values
 * the whole model would compute; in the feature workers when no stage has
 * changed those layers), kept as rows in the process's memory (outside the
 * wasm heap) and in the stage cache; perBatch: folded, for
 * every batch, outside the gradient tape.
 */
async function runPrefixTask(
  task: FeaturesTask,
  boundary: string,
  data: SplitSources,
  run: FeaturesContext,
): Promise<Features> {
  const { plan, inputs, options } = run;
  const prefix = run.models.prefix(boundary);
  const batch = inferenceBatch(plan.base.layers);
  const sources: SplitSources = {};
  const tensors: tf.Tensor[] = [];
  let folded: tf.LayersModel | undefined;
  const fold = task.mode === 'precompute' ? inputs.fold : undefined;
  let pool: Rows | undefined;
  /** One set of examples' activations: from the stage cache, else computed (in workers when they pay) and kept there. */
  const storedRows = async (name: string, indexes: number[], examples: BatchSource): Promise<Rows> => {
    const key = featuresKey(task, name, inputs.backend.name, indexes);
    const { value, reused } = await readOrCompute(
      options.cache,
      { kind: 'features', key, what: `the frozen prefix's ${name} activations` },
      async (cache) => {
        const cached = await cache.readFeatures(key);
        return cached && cached.shape[0] === indexes.length ? cached : undefined;
      },
      async () => {
        const workers = workerPool(task, run);
        const computed = workers
          ? await extractInWorkers(
              await workers,
              splitSource(inputs.dataset, 'train'),
              indexes,
              name,
              batch,
              options.onEvent,
              options.signal,
              boundary,
            )
          : await rowsOf(prefix, examples, name, batch, boundary, options.onEvent, options.signal);
        if (options.cache) {
          const { cache } = options;
          await keepInCache(
            `the frozen prefix's ${name} activations`,
            () => cache.writeFeatures(key, computed.shape, computed.data),
            options.onEvent,
          );
        }
        return computed;
      },
      options,
    );
    if (reused) options.onEvent({ type: 'features-reused', split: name, total: indexes.length, at: boundary });
    return value;
  };
  try {
    for (const split of ['train', 'validation'] as const) {
      const examples = data[split];
      if (!examples || examples.count === 0) continue;
      if (task.mode === 'perBatch') {
        sources[split] = featureSource((folded ??= await foldBatchNorm(prefix)), examples);
        continue;
      }
      const labels = oneHotBatch(
        splitSource(inputs.dataset, split).labels,
        inputs.selection[split],
        plan.classes.count,
      );
      tensors.push(labels);
      if (fold) {
        // One fold of k: the prefix's activations of train+validation are computed (or read) once under a key no fold changes, and each fold takes its rows.
        const trainSplit = splitSource(inputs.dataset, 'train');
        pool ??= await storedRows('pool', fold.pool, poolExamples(run, trainSplit, fold.pool));
        sources[split] = rowSource(pool, labels, split === 'train' ? fold.trainAt : fold.validationAt);
      } else sources[split] = rowSource(await storedRows(split, inputs.selection[split], examples), labels);
    }
  } catch (error) {
    disposeFeatures(tensors, folded, prefix);
    throw error;
  }
  return { task: task.id, boundary, sources, dispose: () => disposeFeatures(tensors, folded, prefix) };
}

/** `model`'s output for every example, as rows of one Float32Array: one batch at a time is in the heap. */
async function rowsOf(
  model: tf.LayersModel,
  examples: BatchSource,
  split: string,
  batch: number,
  at: string,
  onEvent: EventListener,
  signal?: AbortSignal,
): Promise<Rows> {
  const started = performance.now();
  onEvent({ type: 'features-start', split, total: examples.count, at });
  const shape = (model.outputs[0]!.shape as number[]).slice(1);
  const row = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(examples.count * row);
  let done = 0;
  for await (const { x, y } of prefetched(examples, chunk(range(0, examples.count), batch))) {
    const out = tf.tidy(() => model.predict(x) as tf.Tensor);
    data.set((await out.data()) as Float32Array, done * row);
    done += x.shape[0]!;
    tf.dispose([x, y, out]);
    if (signal?.aborted) throw new RunInterrupted();
    onEvent({ type: 'features-progress', split, done, total: examples.count, at });
  }
  const seconds = (performance.now() - started) / 1000;
  onEvent({
    type: 'features-end',
    split,
    total: examples.count,
    seconds,
    imagesPerSecond: examples.count / Math.max(seconds, 1e-9),
    at,
  });
  return { shape: [examples.count, ...shape], data };
}

/**
 * Batches of stored rows: each batch's rows copied into a tensor of its own.
 * With `at`, the source's example i is stored row at[i] (a fold's rows of
 * the pool, taken without copying the pool); labels are by example.
 */
function rowSource(stored: Rows, labels: tf.Tensor, at?: number[]): BatchSource {
  const [rows, ...shape] = stored.shape as [number, ...number[]];
  const row = shape.reduce((a, b) => a * b, 1);
  const classes = labels.shape[1]!;
  const labelRows = labels.dataSync() as Float32Array;
  // Rows copied in JS: tf.gather on wasm costs ~1 ms a batch whatever its size (most of a head step), a copy ~50 µs.
  const take = (data: Float32Array, width: number, rowsAt: number[]): Float32Array => {
    const values = new Float32Array(rowsAt.length * width);
    rowsAt.forEach((r, i) => values.set(data.subarray(r * width, (r + 1) * width), i * width));
    return values;
  };
  return {
    count: at ? at.length : rows,
    batch: async (positions) => ({
      x: tf.tensor(take(stored.data, row, at ? positions.map((p) => at[p]!) : positions), [positions.length, ...shape]),
      y: tf.tensor2d(take(labelRows, classes, positions), [positions.length, classes]),
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
