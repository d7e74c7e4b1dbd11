import * as tf from '@tensorflow/tfjs';
import type { Plan, PlanStage } from '../plan/types.js';
import type { OptimizerSpec } from '../spec/types.js';
import { RunInterrupted, UserError } from './errors.js';
import type { EpochMetrics, EventListener } from './events.js';
import type { SeededRandom } from './random.js';

/** A split that yields model inputs and one-hot targets for any list of its examples. */
export interface BatchSource {
  count: number;
  /** Both tensors belong to the caller, who disposes them. */
  batch(positions: number[]): Promise<{ x: tf.Tensor; y: tf.Tensor }>;
}

/**
 * Yields the batches for `chunks` in order, asking for the next one before
 * the current one is used: image decoding (sharp, on libuv's threads) then
 * overlaps the training step (tfjs, on this thread).
 */
export async function* prefetched(source: BatchSource, chunks: number[][]): AsyncGenerator<{ positions: number[]; x: tf.Tensor; y: tf.Tensor }> {
  let next = chunks.length > 0 ? source.batch(chunks[0]!) : undefined;
  for (let i = 0; i < chunks.length; i++) {
    const current = await next!;
    next = i + 1 < chunks.length ? source.batch(chunks[i + 1]!) : undefined;
    try {
      yield { positions: chunks[i]!, ...current };
    } catch (error) {
      // Dispose what was already prefetched before passing the error on.
      if (next) tf.dispose(Object.values(await next));
      throw error;
    }
  }
}

export function chunk(items: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

export function createOptimizer(spec: OptimizerSpec): tf.Optimizer {
  switch (spec.name) {
    case 'adam':
      return tf.train.adam(spec.learningRate);
    case 'sgd':
      return spec.momentum > 0 ? tf.train.momentum(spec.learningRate, spec.momentum) : tf.train.sgd(spec.learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(spec.learningRate, 0.9, spec.momentum);
  }
}

/**
 * Mean loss over a batch, from probabilities (softmax head) or logits
 * (linear head). With class weights each example's loss is scaled by its
 * class's weight before the mean, as Keras' class_weight does.
 */
export function batchLoss(kind: Plan['loss'], yTrue: tf.Tensor, yPred: tf.Tensor, classWeights?: tf.Tensor1D): tf.Scalar {
  const perExample =
    kind === 'categoricalCrossentropy'
      ? tf.metrics.categoricalCrossentropy(yTrue, yPred)
      : tf.losses.softmaxCrossEntropy(yTrue, yPred, undefined, 0, tf.Reduction.NONE);
  return classWeights ? tf.mean(tf.mul(perExample, tf.sum(tf.mul(yTrue, classWeights), -1))) : tf.mean(perExample);
}

function correctCount(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1)), 'float32'));
}

/** Loss and accuracy of `model` in inference mode over a whole split. */
export async function evaluateSource(model: tf.LayersModel, source: BatchSource, batchSize: number, lossKind: Plan['loss']): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0;
  let correct = 0;
  for await (const { positions, x, y } of prefetched(source, chunk(range(0, source.count), batchSize))) {
    const [l, c] = tf.tidy(() => {
      const pred = model.apply(x, { training: false }) as tf.Tensor;
      return [batchLoss(lossKind, y, pred).mul(positions.length).dataSync()[0]!, correctCount(y, pred).dataSync()[0]!];
    });
    tf.dispose([x, y]);
    lossSum += l;
    correct += c;
  }
  return { loss: lossSum / source.count, accuracy: correct / source.count };
}

export function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

export interface StageHooks {
  onEvent: EventListener;
  signal?: AbortSignal;
  /** Called after every epoch, with the model in its trained state; saves a checkpoint. */
  onEpochEnd(metrics: EpochMetrics, optimizer: tf.Optimizer): Promise<void>;
}

export interface StageOutcome {
  epochsRun: number;
  bestEpoch: number;
  bestValue: number;
  monitor: 'val_loss' | 'loss';
}

/**
 * One stage: `epochs` passes over the training split in seeded random order,
 * updating the model's trainable weights only; metrics after each epoch.
 * Non-trainable layers (the frozen base) never change: tfjs computes no
 * gradients for them, and batch norm runs in inference mode there.
 */
export async function trainStage(
  model: tf.LayersModel,
  stage: PlanStage,
  data: { train: BatchSource; validation?: BatchSource },
  loss: { kind: Plan['loss']; classWeights: number[] | null },
  random: SeededRandom,
  hooks: StageHooks,
): Promise<StageOutcome> {
  const lossKind = loss.kind;
  const classWeights = loss.classWeights ? tf.tensor1d(loss.classWeights) : undefined;
  const optimizer = createOptimizer(stage.optimizer);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const monitor = data.validation && data.validation.count > 0 ? 'val_loss' : 'loss';
  let best = { epoch: 0, value: Number.POSITIVE_INFINITY };
  const batches = Math.ceil(data.train.count / stage.batchSize);
  try {
    for (let stageEpoch = 1; stageEpoch <= stage.epochs; stageEpoch++) {
      const epoch = stage.firstEpoch + stageEpoch - 1;
      const started = performance.now();
      const order = random.shuffle(range(0, data.train.count));
      let lossSum = 0;
      let correct = 0;
      let b = 0;
      for await (const { positions, x, y } of prefetched(data.train, chunk(order, stage.batchSize))) {
        if (hooks.signal?.aborted) {
          tf.dispose([x, y]);
          throw new RunInterrupted();
        }
        let correctInBatch: tf.Scalar | undefined;
        const loss = optimizer.minimize(() => {
          const pred = model.apply(x, { training: true }) as tf.Tensor;
          correctInBatch = tf.keep(correctCount(y, pred));
          // Kernel regularizers of trainable layers add their penalties, as in Keras.
          const penalties = model.calculateLosses();
          const dataLoss = batchLoss(lossKind, y, pred, classWeights);
          return penalties.length > 0 ? tf.addN([dataLoss, ...penalties]) : dataLoss;
        }, true, variables)!;
        const lossValue = loss.dataSync()[0]!;
        correct += correctInBatch!.dataSync()[0]!;
        tf.dispose([x, y, loss, correctInBatch!]);
        if (!Number.isFinite(lossValue)) {
          throw new UserError(
            `the loss became ${lossValue} in stage \`${stage.name}\`, epoch ${epoch}, batch ${b + 1}/${batches}`,
            ['train', 'stages', stage.index, 'optimizer', 'learningRate'],
            'lower the learning rate; checkpoints of the epochs before are kept',
          );
        }
        lossSum += lossValue * positions.length;
        hooks.onEvent({ type: 'batch-end', stage: stage.name, epoch, batch: b + 1, batches, loss: lossValue });
        b++;
        // Let listeners (progress, signals) run between batches: tfjs on wasm/cpu never yields.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const metrics: EpochMetrics = {
        stage: stage.name,
        epoch,
        stageEpoch,
        loss: lossSum / data.train.count,
        accuracy: correct / data.train.count,
        lr: stage.optimizer.learningRate,
        seconds: 0,
      };
      if (monitor === 'val_loss') {
        const val = await evaluateSource(model, data.validation!, stage.batchSize, lossKind);
        metrics.val_loss = val.loss;
        metrics.val_accuracy = val.accuracy;
      }
      metrics.seconds = (performance.now() - started) / 1000;
      const value = monitor === 'val_loss' ? metrics.val_loss! : metrics.loss;
      if (value < best.value) best = { epoch, value };
      hooks.onEvent({ type: 'epoch-end', metrics });
      await hooks.onEpochEnd(metrics, optimizer);
    }
  } finally {
    optimizer.dispose();
    classWeights?.dispose();
  }
  return { epochsRun: stage.epochs, bestEpoch: best.epoch, bestValue: best.value, monitor };
}
