import tf from '../tfjs.cjs';
import { isPixelLoss, type LossKind, type PlanStage } from '../../plan/types.js';
import { RunInterrupted } from '../errors.js';
import type { EpochMetrics, EventListener } from '../events.js';
import { chunk, prefetched, range, weightsAt, type BatchSource, type PositionWeights } from '../data/batches.js';
import type { SeededRandom } from '../random.js';
import type { DomainClassifier, DomainClassifierSnapshot } from '../adapt/domain-classifier.js';
import type { StageAligner } from '../adapt/stage-alignment.js';
import { batchLoss, correctCount, evaluateSource } from './loss.js';
import { INITIAL_MONITOR, INITIAL_PLATEAU, type MonitorState, type PlateauState } from './monitors.js';
import {
  decayWeights,
  groupOptimizers,
  groupRate,
  restoreOptimizer,
  setRates,
  type GroupOptimizer,
  type OptimizerSnapshot,
} from './optimizers.js';
import { stageMonitors } from './stage-monitors.js';
import { MonitorList } from './training-monitor.js';

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
  /** `adapt.method: dann`: the domain classifier, which a checkpoint keeps with its optimizer. */
  domainClassifier?: DomainClassifier;
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
  /** `adapt.method: dann`: the domain classifier's weights and optimizer state. */
  domainClassifier?: DomainClassifierSnapshot;
}

export interface StageOutcome {
  epochsRun: number;
  stoppedEarly: boolean;
  /** The epoch whose weights the stage ends with, when early stopping restored them. */
  restoredEpoch?: number;
  lastLearningRate: number;
}

/** What every batch of a stage uses. */
interface StageRun {
  model: tf.LayersModel;
  stage: PlanStage;
  lossKind: LossKind;
  optimizers: GroupOptimizer[];
  classWeights: tf.Tensor1D | undefined;
  /** dataset.source: the training split's example weights by position. */
  weights: PositionWeights | undefined;
  monitors: MonitorList;
  signal: AbortSignal | undefined;
  aligner: StageAligner | undefined;
}

/**
 * One stage: up to `epochs` passes over the training split in seeded random
 * order, each epoch's end judged by the stage's monitors (early stopping,
 * best weights, plateau, the report, the checkpoint; see stage-monitors.ts).
 * Each parameter group has its own optimizer; every step sets each group's
 * rate from the schedule (and any plateau reductions). Non-trainable layers
 * (the frozen base) never change: tfjs computes no gradients for them, and
 * batch norm runs in inference mode there.
 */
export async function trainStage(
  model: tf.LayersModel,
  stage: PlanStage,
  data: { train: BatchSource; validation?: BatchSource; weights?: PositionWeights },
  lossKind: LossKind,
  shuffle: SeededRandom,
  hooks: StageHooks,
  resume?: StageResume,
  aligner?: StageAligner,
): Promise<StageOutcome> {
  const classWeights = stage.classWeights ? tf.tensor1d(stage.classWeights) : undefined;
  const optimizers = groupOptimizers(model, stage);
  let monitors: MonitorList | undefined;
  let state = resume?.state ?? initialState(stage);
  try {
    if (resume) await Promise.all(optimizers.map((o, i) => restoreOptimizer(o.optimizer, resume.optimizers[i]!)));
    await aligner?.restore(resume?.domainClassifier);
    monitors = new MonitorList(stageMonitors(model, stage, hooks, resume?.bestWeights));
    const run: StageRun = {
      model,
      stage,
      lossKind,
      optimizers,
      classWeights,
      weights: data.weights,
      monitors,
      signal: hooks.signal,
      aligner,
    };
    while (!state.done) {
      const stageEpoch = state.stageEpoch + 1;
      const started = performance.now();
      const metrics = await trainEpoch(
        run,
        data.train,
        shuffle.shuffle(range(0, data.train.count)),
        stageEpoch,
        state.plateau?.scale ?? 1,
      );
      if (data.validation && data.validation.count > 0) {
        const val = await evaluateSource(model, data.validation, stage.batchSize, lossKind);
        metrics.val_loss = val.loss;
        metrics.val_accuracy = val.accuracy;
        if (val.meanIoU !== undefined) metrics.val_meanIoU = val.meanIoU;
      }
      metrics.seconds = (performance.now() - started) / 1000;
      const verdict = monitors.epochEnd({
        metrics,
        state: { ...state, stageEpoch },
        stop: false,
        improved: false,
        stageBest: false,
      });
      state = {
        ...verdict.state,
        done: verdict.stop || stageEpoch >= stage.epochs,
        stoppedEarly: verdict.stop && stageEpoch < stage.epochs,
      };
      // Live tensors after the epoch (the best-weights copy included): constant from epoch to epoch unless something leaks.
      metrics.tensors = tf.memory().numTensors;
      await monitors.epochSettled({
        metrics,
        state,
        optimizers,
        stageBest: verdict.stageBest,
        ...(aligner?.classifier ? { domainClassifier: aligner.classifier } : {}),
      });
    }
    const lastLearningRate = groupRate(stage, optimizers[0]!.group, state.stageEpoch, state.plateau?.scale ?? 1);
    const restoredEpoch = monitors.stageEnd(state);
    return {
      epochsRun: state.stageEpoch,
      stoppedEarly: state.stoppedEarly,
      ...(restoredEpoch !== undefined ? { restoredEpoch } : {}),
      lastLearningRate,
    };
  } finally {
    for (const o of optimizers) o.optimizer.dispose();
    aligner?.dispose();
    monitors?.dispose();
    classWeights?.dispose();
  }
}

function initialState(stage: PlanStage): StageState {
  return {
    stageEpoch: 0,
    done: false,
    stoppedEarly: false,
    ...(stage.earlyStopping ? { earlyStopping: INITIAL_MONITOR } : {}),
    ...(stage.reduceLROnPlateau ? { plateau: INITIAL_PLATEAU } : {}),
  };
}

/** One pass over the training split in `order`; the epoch's metrics before validation. */
async function trainEpoch(
  run: StageRun,
  train: BatchSource,
  order: number[],
  stageEpoch: number,
  scale: number,
): Promise<EpochMetrics> {
  const { stage, optimizers } = run;
  const epoch = stage.firstEpoch + stageEpoch - 1;
  const batches = Math.ceil(train.count / stage.batchSize);
  const ratesAt = (t: number): number[] => optimizers.map((o) => groupRate(stage, o.group, t, scale));
  const firstRates = ratesAt(stageEpoch - 1);
  const perPixel = isPixelLoss(run.lossKind);
  let lossSum = 0;
  let correct = 0;
  let counted = 0;
  let b = 0;
  run.aligner?.startEpoch();
  const mix = run.weights ? new SourceMix(run.weights.from) : undefined;
  for await (const { positions, x, y } of prefetched(train, chunk(order, stage.batchSize))) {
    if (run.signal?.aborted) {
      tf.dispose([x, y]);
      throw new RunInterrupted();
    }
    setRates(optimizers, ratesAt(stageEpoch - 1 + b / batches));
    const weights = run.weights ? weightsAt(run.weights, positions, epoch) : undefined;
    const target = run.aligner ? await run.aligner.targetBatch(positions.length) : undefined;
    // Progress through the stage, for DANN's schedule of the reversed gradient's scale.
    const progress = (stageEpoch - 1 + b / batches) / stage.epochs;
    const step = trainBatch(run, x, y, weights, target && { images: target, progress });
    correct += step.correct;
    counted += step.counted;
    run.monitors.batchEnd({ epoch, batch: b + 1, batches, loss: step.loss });
    // A per-pixel loss is a batch's mean over its counted pixels: weighted by them, the epoch's is the mean over every counted pixel.
    // With example weights a batch's loss is Σ wᵢlᵢ / n (Keras' sample_weight), so the epoch's is Σ wᵢlᵢ / N over the
    // epoch: the mean of the loss the optimiser minimises, as Keras reports it (weights of 1 give the plain mean).
    if (weights) mix!.add(positions, weights);
    lossSum += step.loss * (perPixel ? step.counted : positions.length);
    b++;
    // Let listeners (progress, signals) run between batches: tfjs on wasm/cpu never yields.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return {
    stage: stage.name,
    epoch,
    stageEpoch,
    loss: lossSum / (perPixel ? Math.max(counted, 1) : train.count),
    // Over the whole split: a batch with more counted pixels weighs more, so this is the pixel accuracy exactly.
    accuracy: correct / Math.max(counted, 1),
    lr: firstRates[0]!,
    ...(optimizers.length > 1
      ? { learningRates: Object.fromEntries(optimizers.map((o, i) => [o.group.name, firstRates[i]!])) }
      : {}),
    ...(mix ? mix.shares() : {}),
    seconds: 0,
    ...run.aligner?.epochMetrics(),
  };
}

/**
 * How much of an epoch's batches came from `dataset.source`: its share of
 * the examples, and of the loss weight (which its weight and decay shrink).
 */
class SourceMix {
  private totalWeight = 0;
  private sourceWeight = 0;
  private examples = 0;
  private sourceExamples = 0;

  constructor(private readonly from: number) {}

  /** Counts a batch. */
  add(positions: readonly number[], weights: Float32Array): void {
    positions.forEach((p, i) => {
      this.totalWeight += weights[i]!;
      if (p >= this.from) {
        this.sourceExamples += 1;
        this.sourceWeight += weights[i]!;
      }
    });
    this.examples += positions.length;
  }

  shares(): Pick<EpochMetrics, 'sourceShare' | 'sourceWeightShare'> {
    return {
      sourceShare: this.sourceExamples / Math.max(this.examples, 1),
      sourceWeightShare: this.totalWeight > 0 ? this.sourceWeight / this.totalWeight : 0,
    };
  }
}

/**
 * One batch's gradients and each group's update (decay first, as AdamW);
 * disposes the batch. With an alignment, the target batch runs too and its
 * term joins the loss the gradients are taken of; the loss reported is the
 * training batch's own.
 */
function trainBatch(
  { model, stage, lossKind, optimizers, classWeights, aligner }: StageRun,
  x: tf.Tensor,
  y: tf.Tensor,
  weights?: Float32Array,
  target?: { images: tf.Tensor4D; progress: number },
): { loss: number; correct: number; counted: number } {
  let right: { correct: tf.Scalar; counted: tf.Scalar } | undefined;
  let reported: tf.Scalar | undefined;
  const exampleWeights = weights ? tf.tensor1d(weights) : undefined;
  const { value: total, grads } = tf.variableGrads(() => {
    let pred: tf.Tensor;
    let alignmentTerm: tf.Scalar | undefined;
    if (aligner && target) {
      const [cut, output] = aligner.model.apply(x, { training: true }) as tf.Tensor[];
      pred = output!;
      alignmentTerm = aligner.term(cut!, target.images, target.progress);
    } else pred = model.apply(x, { training: true }) as tf.Tensor;
    right = correctCount(lossKind, y, pred);
    tf.keep(right.correct);
    tf.keep(right.counted);
    // Kernel regularizers of trainable layers add their penalties (a frozen layer's is a constant that teaches nothing).
    const penalties = model.layers.filter((layer) => layer.trainable).flatMap((layer) => layer.calculateLosses());
    const dataLoss = batchLoss(lossKind, y, pred, {
      ...(classWeights ? { classWeights } : {}),
      ...(exampleWeights ? { exampleWeights } : {}),
      labelSmoothing: stage.labelSmoothing,
    });
    const loss = penalties.length > 0 ? tf.addN([dataLoss, ...penalties]) : dataLoss;
    if (!alignmentTerm) return loss;
    reported = tf.keep(loss);
    return tf.add(loss, alignmentTerm);
  }, [...optimizers.flatMap((o) => o.variables), ...(aligner?.variables ?? [])]);
  for (const o of optimizers) {
    decayWeights(o.variables, o.rate * stage.optimizer.weightDecay);
    o.optimizer.applyGradients(Object.fromEntries(o.variables.map((v) => [v.name, grads[v.name]!])));
  }
  aligner?.afterStep(grads);
  const result = {
    loss: (reported ?? total).dataSync()[0]!,
    correct: right!.correct.dataSync()[0]!,
    counted: right!.counted.dataSync()[0]!,
  };
  tf.dispose([
    x,
    y,
    total,
    right!.correct,
    right!.counted,
    grads,
    ...(reported ? [reported] : []),
    ...(exampleWeights ? [exampleWeights] : []),
  ]);
  if (target) target.images.dispose();
  return result;
}
