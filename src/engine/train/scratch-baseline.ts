import tf from '../tfjs.cjs';
import { taskOf, type Plan, type PlanStage } from '../../plan/types.js';
import type { EventListener } from '../events.js';
import { TASK_ENGINES } from '../tasks/registry.js';
import type { StagedTestMetrics } from '../tasks/test-metrics.js';
import { setBatchNormPolicy } from '../model/frozen-batch-norm.js';
import { buildHeadLayers, composeModel } from '../model/build-models.js';
import { setTrainableLayers } from '../model/trainable-layers.js';
import { RandomStreams, SeededRandom } from '../random.js';
import type { BatchSource, PositionWeights } from '../data/batches.js';
import { trainStage, type StageOutcome } from './train-stage.js';

export interface BaselineResult {
  stages: (StageOutcome & { name: string })[];
  test?: StagedTestMetrics;
}

/**
 * `baseline: scratch`: the transfer run's architecture — the base's layers
 * as cut, and the head — from seeded random initialisation, trained on the
 * same split with the same stages (epochs, optimizer, schedule, callbacks),
 * every layer trainable and batch norm learning its statistics, as a network
 * trained from scratch must. Its epochs are reported as `baseline-epoch-end`.
 */
export async function trainScratchBaseline(
  plan: Plan,
  base: tf.LayersModel,
  data: { train: BatchSource; validation?: BatchSource; test?: BatchSource; weights?: PositionWeights },
  testNames: string[],
  onEvent: EventListener,
  signal?: AbortSignal,
): Promise<BaselineResult> {
  // The same topology with fresh weights: loaded without weights, then seeded (tfjs's own initializers draw from Math.random).
  const topology = withBatchNormMomentum(base.toJSON(null, false) as Record<string, unknown>, SCRATCH_BN_MOMENTUM);
  const scratchBase = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology }));
  const streams = new RandomStreams(plan.seed);
  const model = composeModel(scratchBase, buildHeadLayers(plan.head, plan.seed, streams), `${plan.pipeline}_scratch`);
  try {
    initialiseFromScratch(scratchBase, new SeededRandom(plan.seed).fork('scratch-init'));
    setTrainableLayers(scratchBase, 'all');
    setBatchNormPolicy(scratchBase, 'train');
    const shuffle = streams.get('shuffle');
    const stages: BaselineResult['stages'] = [];
    const report: EventListener = (event) => {
      if (event.type === 'epoch-end') onEvent({ type: 'baseline-epoch-end', metrics: event.metrics });
      else if (event.type === 'batch-end') onEvent({ ...event, stage: `scratch:${event.stage}` });
    };
    for (const stage of plan.stages) {
      // Every weight in one group at the stage's head rate: from scratch there is no pretrained part to spare.
      const everything: PlanStage = {
        ...stage,
        trainable: 'base+head',
        parameterGroups: [{ name: 'all', learningRate: stage.optimizer.learningRate, head: true, baseLayers: [] }],
      };
      const outcome = await trainStage(
        model,
        everything,
        {
          train: data.train,
          ...(data.validation ? { validation: data.validation } : {}),
          ...(data.weights ? { weights: data.weights } : {}),
        },
        plan.loss,
        shuffle,
        {
          onEvent: report,
          ...(signal ? { signal } : {}),
          onEpochEnd: async () => undefined,
        },
      );
      stages.push({ name: stage.name, ...outcome });
    }
    const engine = TASK_ENGINES[taskOf(plan)];
    if (engine.runs !== 'staged') throw new Error(`${taskOf(plan)} trains no stages, so it has no scratch baseline`);
    const test = data.test ? await engine.score(model, data.test, plan, testNames) : undefined;
    return { stages, ...(test ? { test } : {}) };
  } finally {
    // The composed model owns every layer, the scratch base's included.
    model.dispose();
  }
}

/**
 * Batch norm's moving-average momentum for the scratch network. Pretrained
 * Keras bases keep 0.99–0.999, fine for statistics that start right; from
 * scratch they start at 0 and 1, and at 0.999 a few hundred steps leave them
 * there, so validation in inference mode would measure the initial
 * statistics rather than the network. 0.9 is PyTorch's default (its 0.1).
 */
const SCRATCH_BN_MOMENTUM = 0.9;

function withBatchNormMomentum(topology: Record<string, unknown>, momentum: number): Record<string, unknown> {
  const layers = (topology['config'] as { layers: { class_name: string; config: Record<string, unknown> }[] }).layers;
  return {
    ...topology,
    config: {
      ...(topology['config'] as object),
      layers: layers.map((l) =>
        l.class_name === 'BatchNormalization' ? { ...l, config: { ...l.config, momentum } } : l,
      ),
    },
  };
}

/**
 * Keras' defaults, seeded: kernels Glorot-uniform, biases and shifts zero,
 * scales and moving variances one, moving means zero.
 */
function initialiseFromScratch(model: tf.LayersModel, random: SeededRandom): void {
  tf.tidy(() => {
    for (const weight of model.weights) {
      const name = weight.originalName;
      const shape = weight.shape as number[];
      let value: tf.Tensor;
      if (/(gamma|moving_variance)$/.test(name)) value = tf.ones(shape);
      else if (/(kernel)$/.test(name) && shape.length >= 2) {
        const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
        const limit = Math.sqrt(6 / (receptive * (shape.at(-2)! + shape.at(-1)!)));
        value = tf.randomUniform(shape, -limit, limit, 'float32', random.nextSeed());
      } else value = tf.zeros(shape);
      weight.write(value);
    }
  });
}
