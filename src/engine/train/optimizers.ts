import tf from '../tfjs.cjs';
import { learningRateAt } from '../../plan/learning-rate-schedule.js';
import type { ParameterGroup, PlanStage } from '../../plan/types.js';
import type { OptimizerSpec } from '../../format/types.js';
import { FusedAdamOptimizer } from '../kernels/fused-adam.js';

/** One parameter group's optimizer and the variables it updates. */
export interface GroupOptimizer {
  group: ParameterGroup;
  optimizer: tf.Optimizer;
  variables: tf.Variable[];
  /** The rate the optimizer holds now. */
  rate: number;
}

/** A fresh optimizer for one parameter group, at its peak rate (the schedule sets the rate every step). */
export function createOptimizer(spec: OptimizerSpec, learningRate: number): tf.Optimizer {
  switch (spec.name) {
    case 'adam':
    case 'adamw':
      // tf.train.adam's update to the bit, fused into one pass on wasm.
      return new FusedAdamOptimizer(learningRate);
    case 'sgd':
      return spec.momentum > 0
        ? tf.train.momentum(learningRate, spec.momentum, spec.nesterov)
        : tf.train.sgd(learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(learningRate, 0.9, spec.momentum);
  }
}

/**
 * The stage's trainable variables by parameter group: a base layer's
 * weights go to the group that names it, every other trainable layer's
 * (the head's) to the head group.
 */
export function groupOptimizers(model: tf.LayersModel, stage: PlanStage): GroupOptimizer[] {
  const groups = stage.parameterGroups.map((group) => ({
    group,
    optimizer: createOptimizer(stage.optimizer, group.learningRate),
    variables: [] as tf.Variable[],
    rate: group.learningRate,
  }));
  const byLayer = new Map(groups.flatMap((g) => g.group.baseLayers.map((name) => [name, g] as const)));
  const head = groups.find((g) => g.group.head)!;
  for (const layer of model.layers) {
    for (const weight of layer.trainableWeights)
      (byLayer.get(layer.name) ?? head).variables.push(weight.read() as tf.Variable);
  }
  return groups.filter((g) => g.variables.length > 0 || g.group.head);
}

/**
 * A group's rate at `t` epochs into the stage: the schedule's, times the
 * product of plateau reductions (`scale`), never below plateau's floor once
 * it has reduced.
 */
export function groupRate(stage: PlanStage, group: ParameterGroup, t: number, scale: number): number {
  const scheduled = learningRateAt(stage.schedule, group.learningRate, t, stage.epochs);
  return scale < 1 ? Math.max(stage.reduceLROnPlateau!.minLearningRate, scheduled * scale) : scheduled;
}

/** Gives each optimizer its rate, only when it changes: sgd's setLearningRate makes a new scalar each time. */
export function setRates(optimizers: GroupOptimizer[], rates: number[]): void {
  optimizers.forEach((o, i) => {
    if (o.rate !== rates[i]) setLearningRate(o.optimizer, (o.rate = rates[i]!));
  });
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

/** Decoupled weight decay (AdamW): kernels shrink by (1 − lr·wd); biases and normalisation parameters do not. */
export function decayWeights(variables: tf.Variable[], amount: number): void {
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
  return adam.accBeta1 && adam.accBeta2
    ? { weights, accBeta: [adam.accBeta1.dataSync()[0]!, adam.accBeta2.dataSync()[0]!] }
    : { weights };
}

export async function restoreOptimizer(optimizer: tf.Optimizer, snapshot: OptimizerSnapshot): Promise<void> {
  if (snapshot.weights.length === 0) return;
  await optimizer.setWeights(snapshot.weights);
  const adam = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  if (snapshot.accBeta && adam.accBeta1 && adam.accBeta2) {
    adam.accBeta1.assign(tf.scalar(snapshot.accBeta[0]));
    adam.accBeta2.assign(tf.scalar(snapshot.accBeta[1]));
  }
}
