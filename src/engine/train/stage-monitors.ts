import tf from '../tfjs.cjs';
import { UserError } from '../../diagnostics/user-error.js';
import type { EarlyStoppingSpec } from '../../format/types.js';
import type { PlanStage } from '../../plan/types.js';
import type { EventListener } from '../events.js';
import { monitoredValue, observeEarlyStopping, observePlateau } from './monitors.js';
import type { StageHooks } from './train-stage.js';
import type { TrainingMonitor } from './training-monitor.js';

/**
 * A stage's monitors in the order they must run: early stopping decides
 * before best weights keeps a copy, both before the epoch is reported, and
 * the report before the checkpoint (a sweep judges the reported epoch; a
 * checkpoint holds the settled state). Reordering them changes what a
 * resumed run draws and saves.
 */
export function stageMonitors(
  model: tf.LayersModel,
  stage: PlanStage,
  hooks: StageHooks,
  resumedBest?: tf.NamedTensorMap,
): TrainingMonitor[] {
  return [
    nonFiniteLossMonitor(stage),
    ...(stage.earlyStopping ? [earlyStoppingMonitor(stage.earlyStopping)] : []),
    ...(stage.earlyStopping?.restoreBest ? [bestWeightsMonitor(model, stage, resumedBest)] : []),
    ...(stage.reduceLROnPlateau ? [plateauMonitor(stage, hooks.onEvent)] : []),
    epochReportMonitor(stage, hooks.onEvent),
    checkpointMonitor((end) => hooks.onEpochEnd(end)),
  ];
}

/** Ends the stage at the first batch whose loss is NaN or infinite, naming where, as the user's learning rate's fault. */
export function nonFiniteLossMonitor(stage: PlanStage): TrainingMonitor {
  return {
    onBatchEnd({ epoch, batch, batches, loss }) {
      if (Number.isFinite(loss)) return;
      throw new UserError(
        `the loss became ${loss} in stage \`${stage.name}\`, epoch ${epoch}, batch ${batch}/${batches}`,
        ['train', 'stages', stage.index, 'optimizer', 'learningRate'],
        'lower the learning rate; checkpoints of the epochs before are kept',
      );
    },
  };
}

/** Keras' EarlyStopping: counts epochs without improvement in the stage state and stops after `patience`. */
export function earlyStoppingMonitor(spec: EarlyStoppingSpec): TrainingMonitor {
  return {
    onEpochEnd(verdict) {
      const { metrics, state } = verdict;
      const observed = observeEarlyStopping(
        spec,
        state.earlyStopping!,
        metrics.epoch,
        monitoredValue(spec.monitor, metrics),
      );
      return {
        ...verdict,
        state: { ...state, earlyStopping: observed.state },
        improved: observed.improved,
        stop: verdict.stop || observed.stop,
      };
    },
  };
}

/**
 * Early stopping's restoreBest: a copy of the weights of each epoch that
 * improved, put back when the stage ends on a later epoch. A resumed stage
 * starts from the best epoch's checkpointed weights.
 */
export function bestWeightsMonitor(
  model: tf.LayersModel,
  stage: PlanStage,
  resumed?: tf.NamedTensorMap,
): TrainingMonitor {
  // A head-only stage that runs images through the whole model (a head reading base layers) checkpoints
  // the head's weights alone: the frozen base's are the model's own, unchanged by the stage.
  let best = resumed ? model.weights.map((w) => tf.clone(resumed[w.originalName] ?? w.read())) : undefined;
  return {
    onEpochEnd(verdict) {
      if (!verdict.improved) return verdict;
      tf.dispose(best ?? []);
      best = model.weights.map((w) => tf.clone(w.read()));
      return { ...verdict, stageBest: true };
    },
    onStageEnd(state) {
      const bestEpoch = state.earlyStopping?.bestEpoch;
      if (!best || bestEpoch === undefined || bestEpoch === stage.firstEpoch + state.stageEpoch - 1) return undefined;
      model.setWeights(best);
      return bestEpoch;
    },
    dispose() {
      tf.dispose(best ?? []);
    },
  };
}

/** Keras' ReduceLROnPlateau: its reductions multiply the scale in the stage state, which the rates of the next epochs apply. */
export function plateauMonitor(stage: PlanStage, onEvent: EventListener): TrainingMonitor {
  const spec = stage.reduceLROnPlateau!;
  return {
    onEpochEnd(verdict) {
      const { metrics, state } = verdict;
      const observed = observePlateau(spec, state.plateau!, metrics.epoch, monitoredValue(spec.monitor, metrics));
      if (observed.reduced)
        onEvent({
          type: 'log',
          level: 'info',
          message: `stage ${stage.name}, epoch ${metrics.epoch}: ${spec.monitor} has not improved for ${spec.patience} epoch(s); learning rate ×${spec.factor}`,
        });
      return { ...verdict, state: { ...state, plateau: observed.state } };
    },
  };
}

/**
 * Each batch and epoch as events: progress renders them, the run records
 * each epoch's metric row, and a sweep trial's process sends its epochs to
 * the sweep, which stops the trial at an ASHA rung where it falls behind.
 */
export function epochReportMonitor(stage: PlanStage, onEvent: EventListener): TrainingMonitor {
  return {
    onBatchEnd({ epoch, batch, batches, loss }) {
      onEvent({ type: 'batch-end', stage: stage.name, epoch, batch, batches, loss });
    },
    onEpochSettled({ metrics }) {
      onEvent({ type: 'epoch-end', metrics });
    },
  };
}

/** The caller's checkpoint writer, given each settled epoch; it decides whether the epoch is due. */
export function checkpointMonitor(save: StageHooks['onEpochEnd']): TrainingMonitor {
  return { onEpochSettled: save };
}
