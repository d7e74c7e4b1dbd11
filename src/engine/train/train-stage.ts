import * as tf from '@tensorflow/tfjs';
import { learningRateAt } from '../../plan/learning-rate-schedule.js';
import type { ParameterGroup, Plan, PlanStage } from '../../plan/types.js';
import type { OptimizerSpec } from '../../format/types.js';
import { RunInterrupted } from '../errors.js';
import { UserError } from '../../diagnostics/user-error.js';
import type { EpochMetrics, EventListener } from '../events.js';
import { INITIAL_MONITOR, INITIAL_PLATEAU, monitoredValue, observeEarlyStopping, observePlateau, type MonitorState, type PlateauState } from './monitors.js';
import type { SeededRandom } from '../random.js';

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

/** A fresh optimizer for one parameter group, at its peak rate (the schedule sets the rate every step). */
export function createOptimizer(spec: OptimizerSpec, learningRate: number): tf.Optimizer {
  switch (spec.name) {
    case 'adam':
    case 'adamw':
      return tf.train.adam(learningRate);
    case 'sgd':
      return spec.momentum > 0 ? tf.train.momentum(learningRate, spec.momentum, spec.nesterov) : tf.train.sgd(learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(learningRate, 0.9, spec.momentum);
  }
}

/**
 * tfjs optimizers take their rate at construction; adam, rmsprop and
 * momentum read `learningRate` at every step, sgd (and momentum, its
 * subclass) keep a scalar that `setLearningRate` renews.
 */
function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  // Not `instanceof`: tfjs's Optimizer[Symbol.hasInstance] answers true for every optimizer.
  const target = optimizer as unknown as { learningRate: number; setLearningRate?: (rate: number) => void };
  if (target.setLearningRate) target.setLearningRate(learningRate);
  else target.learningRate = learningRate;
}

/**
 * Mean loss over a batch, from probabilities (softmax head) or logits
 * (linear head). With class weights each example's loss is scaled by its
 * class's weight before the mean, as Keras' class_weight does. Label
 * smoothing ε trains towards (1 − ε)·one-hot + ε/classes.
 */
export function batchLoss(kind: Plan['loss'], yTrue: tf.Tensor, yPred: tf.Tensor, options: { classWeights?: tf.Tensor1D; labelSmoothing?: number } = {}): tf.Scalar {
  const { classWeights, labelSmoothing = 0 } = options;
  const classes = yTrue.shape[yTrue.shape.length - 1]!;
  const target = labelSmoothing > 0 ? tf.add(tf.mul(yTrue, 1 - labelSmoothing), labelSmoothing / classes) : yTrue;
  const perExample =
    kind === 'categoricalCrossentropy'
      ? tf.metrics.categoricalCrossentropy(target, yPred)
      : tf.losses.softmaxCrossEntropy(target, yPred, undefined, 0, tf.Reduction.NONE);
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

/** One parameter group's optimizer and the variables it updates. */
export interface GroupOptimizer {
  group: ParameterGroup;
  optimizer: tf.Optimizer;
  variables: tf.Variable[];
  /** The rate the optimizer holds now. */
  rate: number;
}

/** Where a stage stands after an epoch: what a checkpoint must hold to continue it. */
export interface StageState {
  /** Epochs of this stage completed. */
  stageEpoch: number;
  /** The stage has ended: its last epoch ran or early stopping ended it. */
  done: boolean;
  stoppedEarly: boolean;
  earlyStopping?: MonitorState;
  plateau?: PlateauState;
}

export interface EpochEnd {
  metrics: EpochMetrics;
  state: StageState;
  optimizers: GroupOptimizer[];
  /** This epoch is the stage's best so far and early stopping may restore it. */
  stageBest: boolean;
}

export interface StageHooks {
  onEvent: EventListener;
  signal?: AbortSignal;
  /** Called after every epoch, with the model in its trained state; saves a checkpoint when due. */
  onEpochEnd(end: EpochEnd): Promise<void>;
}

/** Continues a stage from a checkpoint. */
export interface StageResume {
  state: StageState;
  /** Each group's optimizer state, in the order of `stage.parameterGroups` that have weights. */
  optimizers: OptimizerSnapshot[];
  /** For early stopping with restoreBest: the stage's best weights so far, by weight name. */
  bestWeights?: tf.NamedTensorMap;
}

export interface StageOutcome {
  epochsRun: number;
  stoppedEarly: boolean;
  /** The epoch whose weights the stage ends with, when early stopping restored them. */
  restoredEpoch?: number;
  lastLearningRate: number;
}

/**
 * One stage: up to `epochs` passes over the training split in seeded random
 * order. Each parameter group has its own optimizer; every step sets each
 * group's rate from the schedule (and any plateau reductions). Non-trainable
 * layers (the frozen base) never change: tfjs computes no gradients for them,
 * and batch norm runs in inference mode there.
 */
export async function trainStage(
  model: tf.LayersModel,
  stage: PlanStage,
  data: { train: BatchSource; validation?: BatchSource },
  lossKind: Plan['loss'],
  shuffle: SeededRandom,
  hooks: StageHooks,
  resume?: StageResume,
): Promise<StageOutcome> {
  const classWeights = stage.classWeights ? tf.tensor1d(stage.classWeights) : undefined;
  const optimizers = groupOptimizers(model, stage);
  let state: StageState = resume?.state ?? {
    stageEpoch: 0, done: false, stoppedEarly: false,
    ...(stage.earlyStopping ? { earlyStopping: INITIAL_MONITOR } : {}),
    ...(stage.reduceLROnPlateau ? { plateau: INITIAL_PLATEAU } : {}),
  };
  // Early stopping's restoreBest keeps the best epoch's weights in memory.
  const restoreBest = stage.earlyStopping?.restoreBest === true;
  let bestWeights: tf.Tensor[] | undefined;
  const batches = Math.ceil(data.train.count / stage.batchSize);
  const rateAt = (group: ParameterGroup, t: number): number => {
    const scheduled = learningRateAt(stage.schedule, group.learningRate, t, stage.epochs);
    const scale = state.plateau?.scale ?? 1;
    return scale < 1 ? Math.max(stage.reduceLROnPlateau!.minLearningRate, scheduled * scale) : scheduled;
  };
  const allVariables = optimizers.flatMap((o) => o.variables);
  try {
    if (resume) {
      await Promise.all(optimizers.map((o, i) => restoreOptimizer(o.optimizer, resume.optimizers[i]!)));
      if (resume.bestWeights) bestWeights = model.weights.map((w) => tf.clone(resume.bestWeights![w.originalName]!));
    }
    while (!state.done) {
      const stageEpoch = state.stageEpoch + 1;
      const epoch = stage.firstEpoch + stageEpoch - 1;
      const started = performance.now();
      const order = shuffle.shuffle(range(0, data.train.count));
      const firstRates = optimizers.map((o) => rateAt(o.group, stageEpoch - 1));
      let lossSum = 0;
      let correct = 0;
      let b = 0;
      for await (const { positions, x, y } of prefetched(data.train, chunk(order, stage.batchSize))) {
        if (hooks.signal?.aborted) {
          tf.dispose([x, y]);
          throw new RunInterrupted();
        }
        const rates = optimizers.map((o) => rateAt(o.group, stageEpoch - 1 + b / batches));
        // Only when it changes: sgd's setLearningRate makes a new scalar each time.
        optimizers.forEach((o, i) => {
          if (o.rate !== rates[i]) setLearningRate(o.optimizer, (o.rate = rates[i]!));
        });
        let correctInBatch: tf.Scalar | undefined;
        const { value: loss, grads } = tf.variableGrads(() => {
          const pred = model.apply(x, { training: true }) as tf.Tensor;
          correctInBatch = tf.keep(correctCount(y, pred));
          // Kernel regularizers of trainable layers add their penalties (a frozen layer's is a constant that teaches nothing).
          const penalties = model.layers.filter((layer) => layer.trainable).flatMap((layer) => layer.calculateLosses());
          const dataLoss = batchLoss(lossKind, y, pred, { ...(classWeights ? { classWeights } : {}), labelSmoothing: stage.labelSmoothing });
          return penalties.length > 0 ? tf.addN([dataLoss, ...penalties]) : dataLoss;
        }, allVariables);
        optimizers.forEach((o, i) => {
          decayWeights(o.variables, rates[i]! * stage.optimizer.weightDecay);
          o.optimizer.applyGradients(Object.fromEntries(o.variables.map((v) => [v.name, grads[v.name]!])));
        });
        const lossValue = loss.dataSync()[0]!;
        correct += correctInBatch!.dataSync()[0]!;
        tf.dispose([x, y, loss, correctInBatch!, grads]);
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
        lr: firstRates[0]!,
        ...(optimizers.length > 1 ? { learningRates: Object.fromEntries(optimizers.map((o, i) => [o.group.name, firstRates[i]!])) } : {}),
        seconds: 0,
      };
      if (data.validation && data.validation.count > 0) {
        const val = await evaluateSource(model, data.validation, stage.batchSize, lossKind);
        metrics.val_loss = val.loss;
        metrics.val_accuracy = val.accuracy;
      }
      metrics.seconds = (performance.now() - started) / 1000;

      let stageBest = false;
      let stop = false;
      let next: StageState = { ...state, stageEpoch };
      if (stage.earlyStopping) {
        const observed = observeEarlyStopping(stage.earlyStopping, state.earlyStopping!, epoch, monitoredValue(stage.earlyStopping.monitor, metrics));
        next.earlyStopping = observed.state;
        stageBest = observed.improved && restoreBest;
        stop = observed.stop;
        if (stageBest) {
          tf.dispose(bestWeights ?? []);
          bestWeights = model.weights.map((w) => tf.clone(w.read()));
        }
      }
      if (stage.reduceLROnPlateau) {
        const observed = observePlateau(stage.reduceLROnPlateau, state.plateau!, epoch, monitoredValue(stage.reduceLROnPlateau.monitor, metrics));
        next.plateau = observed.state;
        if (observed.reduced) hooks.onEvent({ type: 'log', level: 'info', message: `stage ${stage.name}, epoch ${epoch}: ${stage.reduceLROnPlateau.monitor} has not improved for ${stage.reduceLROnPlateau.patience} epoch(s); learning rate ×${stage.reduceLROnPlateau.factor}` });
      }
      next = { ...next, done: stop || stageEpoch >= stage.epochs, stoppedEarly: stop && stageEpoch < stage.epochs };
      state = next;
      // Live tensors after the epoch (the best-weights snapshot included): constant from epoch to epoch unless something leaks.
      metrics.tensors = tf.memory().numTensors;
      hooks.onEvent({ type: 'epoch-end', metrics });
      await hooks.onEpochEnd({ metrics, state, optimizers, stageBest });
    }
    const lastLearningRate = rateAt(optimizers[0]!.group, state.stageEpoch);
    const bestEpoch = state.earlyStopping?.bestEpoch;
    if (restoreBest && bestWeights && bestEpoch !== undefined && bestEpoch !== stage.firstEpoch + state.stageEpoch - 1) {
      model.setWeights(bestWeights);
      return { epochsRun: state.stageEpoch, stoppedEarly: state.stoppedEarly, restoredEpoch: bestEpoch, lastLearningRate };
    }
    return { epochsRun: state.stageEpoch, stoppedEarly: state.stoppedEarly, lastLearningRate };
  } finally {
    for (const o of optimizers) o.optimizer.dispose();
    tf.dispose(bestWeights ?? []);
    classWeights?.dispose();
  }
}

/**
 * The stage's trainable variables by parameter group: a base layer's
 * weights go to the group that names it, every other trainable layer's
 * (the head's) to the head group.
 */
function groupOptimizers(model: tf.LayersModel, stage: PlanStage): GroupOptimizer[] {
  const groups = stage.parameterGroups.map((group) => ({ group, optimizer: createOptimizer(stage.optimizer, group.learningRate), variables: [] as tf.Variable[], rate: group.learningRate }));
  const byLayer = new Map(groups.flatMap((g) => g.group.baseLayers.map((name) => [name, g] as const)));
  const head = groups.find((g) => g.group.head)!;
  for (const layer of model.layers) {
    for (const weight of layer.trainableWeights) (byLayer.get(layer.name) ?? head).variables.push(weight.read() as tf.Variable);
  }
  return groups.filter((g) => g.variables.length > 0 || g.group.head);
}

/** Decoupled weight decay (AdamW): kernels shrink by (1 − lr·wd); biases and normalisation parameters do not. */
function decayWeights(variables: tf.Variable[], amount: number): void {
  if (amount <= 0) return;
  tf.tidy(() => {
    for (const v of variables) if (v.shape.length >= 2) v.assign(tf.mul(v, 1 - amount));
  });
}

/**
 * Optimizer state for a checkpoint: tfjs's own weights, plus adam's running
 * bias-correction powers, which its setWeights would recompute as a power
 * and so differ in the last bits from the running product.
 */
export interface OptimizerSnapshot {
  weights: { name: string; tensor: tf.Tensor }[];
  accBeta?: [number, number];
}

export async function optimizerState(optimizer: tf.Optimizer): Promise<OptimizerSnapshot> {
  const weights = await optimizer.getWeights();
  const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  return adam.accBeta1 && adam.accBeta2 ? { weights, accBeta: [adam.accBeta1.dataSync()[0]!, adam.accBeta2.dataSync()[0]!] } : { weights };
}

async function restoreOptimizer(optimizer: tf.Optimizer, snapshot: OptimizerSnapshot): Promise<void> {
  if (snapshot.weights.length === 0) return;
  await optimizer.setWeights(snapshot.weights);
  const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  if (snapshot.accBeta && adam.accBeta1 && adam.accBeta2) {
    adam.accBeta1.assign(tf.scalar(snapshot.accBeta[0]));
    adam.accBeta2.assign(tf.scalar(snapshot.accBeta[1]));
  }
}
