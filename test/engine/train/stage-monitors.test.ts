import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { BatchSource } from '../../../src/engine/data/batches.js';
import { RunInterrupted } from '../../../src/engine/errors.js';
import type { EngineEvent, EpochMetrics } from '../../../src/engine/events.js';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { buildHeadLayers, buildHeadModel } from '../../../src/engine/model/build-models.js';
import { SeededRandom } from '../../../src/engine/random.js';
import { INITIAL_MONITOR, INITIAL_PLATEAU } from '../../../src/engine/train/monitors.js';
import { optimizerState, type OptimizerSnapshot } from '../../../src/engine/train/optimizers.js';
import {
  bestWeightsMonitor,
  earlyStoppingMonitor,
  nonFiniteLossMonitor,
  plateauMonitor,
} from '../../../src/engine/train/stage-monitors.js';
import {
  trainStage,
  type EpochEnd,
  type StageOutcome,
  type StageState,
} from '../../../src/engine/train/train-stage.js';
import { MonitorList, type TrainingMonitor } from '../../../src/engine/train/training-monitor.js';
import { UserError } from '../../../src/diagnostics/user-error.js';
import type { EarlyStoppingSpec, OptimizerSpec, PlateauSpec } from '../../../src/format/types.js';
import { headStage } from '../../fixtures/head-stage.js';
import type { PlanStage } from '../../../src/plan/types.js';

const X = [
  [1, 2],
  [0.5, -1],
  [-0.3, 0.8],
  [2, -0.5],
  [-1, -1],
  [0.2, 0.4],
  [1.5, 1],
  [-0.7, 0.3],
];
const LABELS = [0, 1, 0, 1, 1, 0, 0, 1];
const LR = 0.1;

/** Eight examples of two features and two classes; `poison` puts NaN in every input. */
function source(poison = false): BatchSource {
  return {
    count: X.length,
    batch: async (positions) => ({
      x: tf.tensor2d(positions.map((p) => X[p]!.map((v) => (poison ? Number.NaN : v)))),
      y: tf.tensor2d(positions.map((p) => (LABELS[p] === 0 ? [1, 0] : [0, 1]))),
    }),
  };
}

/** A 2→2 linear layer (logits), seeded. */
const tinyModel = (): tf.LayersModel =>
  buildHeadModel(buildHeadLayers([{ type: 'dense', units: 2, activation: 'linear', useBias: true }], 5), [2]);

function stage(
  overrides: Partial<Omit<PlanStage, 'optimizer'>> & { optimizer?: Partial<OptimizerSpec> } = {},
): PlanStage {
  return headStage(LR, { epochs: 4, batchSize: 3, ...overrides });
}

const values = (model: tf.LayersModel): number[][] => model.weights.map((w) => [...w.read().dataSync()]);
const metricsAt = (epoch: number, loss: number): EpochMetrics => ({
  stage: 's',
  epoch,
  stageEpoch: epoch,
  loss,
  accuracy: 0,
  lr: LR,
  seconds: 0,
});
// Training loss falls epoch after epoch here, so watching it in `max` mode makes epoch 1 the best and every later epoch a miss.
const LOSS_MAX = { monitor: 'loss', mode: 'max', minDelta: 0 } as const;
const EARLY: EarlyStoppingSpec = { ...LOSS_MAX, patience: 1, restoreBest: true };
const PLATEAU: PlateauSpec = { ...LOSS_MAX, factor: 0.5, patience: 1, cooldown: 0, minLearningRate: 0 };

before(async () => {
  await selectBackend('cpu');
});

describe("each epoch's verdict, monitor by monitor, in list order", () => {
  const minLoss = { monitor: 'loss', mode: 'min', minDelta: 0 } as const;
  const cases: {
    name: string;
    monitors: (model: tf.LayersModel, logs: string[]) => TrainingMonitor[];
    state: Partial<StageState>;
    losses: number[];
    verdicts: { stop: boolean; improved: boolean; stageBest: boolean }[];
    logs?: RegExp[];
    scales?: number[];
  }[] = [
    {
      name: 'early stopping: a new best resets the wait, `patience` epochs without one stop the stage',
      monitors: () => [earlyStoppingMonitor({ ...minLoss, patience: 2, restoreBest: false })],
      state: { earlyStopping: INITIAL_MONITOR },
      losses: [1, 0.8, 0.9, 0.85],
      verdicts: [
        { stop: false, improved: true, stageBest: false },
        { stop: false, improved: true, stageBest: false },
        { stop: false, improved: false, stageBest: false },
        { stop: true, improved: false, stageBest: false },
      ],
    },
    {
      name: "best weights after early stopping: each improving epoch is the stage's best",
      monitors: (model) => [
        earlyStoppingMonitor({ ...minLoss, patience: 5, restoreBest: true }),
        bestWeightsMonitor(model, stage()),
      ],
      state: { earlyStopping: INITIAL_MONITOR },
      losses: [1, 0.8, 0.9],
      verdicts: [
        { stop: false, improved: true, stageBest: true },
        { stop: false, improved: true, stageBest: true },
        { stop: false, improved: false, stageBest: false },
      ],
    },
    {
      name: 'plateau: reduces the rate after `patience` epochs without a new best, says so, and never stops the stage',
      monitors: (_, logs) => [
        plateauMonitor(
          stage({ reduceLROnPlateau: { ...minLoss, factor: 0.5, patience: 1, cooldown: 0, minLearningRate: 0 } }),
          (e) => void (e.type === 'log' && logs.push(e.message)),
        ),
      ],
      state: { plateau: INITIAL_PLATEAU },
      losses: [1, 1.1, 1.2],
      verdicts: [
        { stop: false, improved: false, stageBest: false },
        { stop: false, improved: false, stageBest: false },
        { stop: false, improved: false, stageBest: false },
      ],
      logs: [/^stage s, epoch 2: loss has not improved for 1 epoch\(s\); learning rate ×0.5$/, /^stage s, epoch 3: /],
      scales: [1, 0.5, 0.25],
    },
    {
      name: 'no monitors: nothing stops, nothing improves',
      monitors: () => [],
      state: {},
      losses: [1, 2],
      verdicts: [
        { stop: false, improved: false, stageBest: false },
        { stop: false, improved: false, stageBest: false },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const model = tinyModel();
      const logs: string[] = [];
      const list = new MonitorList(c.monitors(model, logs));
      let state: StageState = { stageEpoch: 0, done: false, stoppedEarly: false, ...c.state };
      const verdicts: { stop: boolean; improved: boolean; stageBest: boolean }[] = [];
      const scales: number[] = [];
      for (const [i, loss] of c.losses.entries()) {
        const {
          stop,
          improved,
          stageBest,
          state: next,
        } = list.epochEnd({
          metrics: metricsAt(i + 1, loss),
          state: { ...state, stageEpoch: i + 1 },
          stop: false,
          improved: false,
          stageBest: false,
        });
        verdicts.push({ stop, improved, stageBest });
        scales.push(next.plateau?.scale ?? 1);
        state = next;
      }
      list.dispose();
      model.dispose();
      assert.deepEqual(verdicts, c.verdicts);
      if (c.scales) assert.deepEqual(scales, c.scales);
      assert.equal(logs.length, c.logs?.length ?? 0, logs.join('\n'));
      c.logs?.forEach((pattern, i) => assert.match(logs[i]!, pattern));
    });
  }
});

describe('the non-finite loss monitor', () => {
  const cases: { name: string; loss: number; throws: boolean }[] = [
    { name: 'NaN ends the stage', loss: Number.NaN, throws: true },
    { name: 'Infinity ends the stage', loss: Number.POSITIVE_INFINITY, throws: true },
    { name: '-Infinity ends the stage', loss: Number.NEGATIVE_INFINITY, throws: true },
    { name: 'a large finite loss does not', loss: 1e30, throws: false },
    { name: 'zero does not', loss: 0, throws: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const monitor = nonFiniteLossMonitor(stage({ index: 2 }));
      const call = (): void => monitor.onBatchEnd!({ epoch: 3, batch: 2, batches: 4, loss: c.loss });
      if (!c.throws) return assert.doesNotThrow(call);
      assert.throws(call, (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.equal(error.message, `the loss became ${c.loss} in stage \`s\`, epoch 3, batch 2/4`);
        assert.deepEqual(error.path, ['train', 'stages', 2, 'optimizer', 'learningRate']);
        return true;
      });
    });
  }
});

describe('the best-weights monitor', () => {
  const fill = (model: tf.LayersModel, value: number): void =>
    tf.tidy(() => model.setWeights(model.weights.map((w) => tf.fill(w.shape as number[], value))));
  const improved = (epoch: number, yes: boolean) => ({
    metrics: metricsAt(epoch, 0),
    state: { stageEpoch: epoch, done: false, stoppedEarly: false },
    stop: false,
    improved: yes,
    stageBest: false,
  });
  const cases: {
    name: string;
    resumedWith?: number;
    epochs: { value: number; improved: boolean }[];
    bestEpoch: number;
    restored: number | undefined;
    weights: number;
  }[] = [
    {
      name: "puts back the best epoch's weights when the stage ends on a later one",
      epochs: [
        { value: 1, improved: true },
        { value: 2, improved: false },
      ],
      bestEpoch: 1,
      restored: 1,
      weights: 1,
    },
    {
      name: "keeps the last epoch's weights when it is the best",
      epochs: [
        { value: 1, improved: true },
        { value: 2, improved: true },
      ],
      bestEpoch: 2,
      restored: undefined,
      weights: 2,
    },
    {
      name: "a resumed stage puts back the checkpoint's best weights",
      resumedWith: 7,
      epochs: [
        { value: 3, improved: false },
        { value: 4, improved: false },
      ],
      bestEpoch: 1,
      restored: 1,
      weights: 7,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const model = tinyModel();
      const before = tf.memory().numTensors;
      const resumed =
        c.resumedWith === undefined
          ? undefined
          : Object.fromEntries(
              model.weights.map((w) => [w.originalName, tf.fill(w.shape as number[], c.resumedWith!)]),
            );
      const monitor = bestWeightsMonitor(model, stage(), resumed);
      tf.dispose(Object.values(resumed ?? {}));
      c.epochs.forEach((e, i) => {
        fill(model, e.value);
        assert.equal(monitor.onEpochEnd!(improved(i + 1, e.improved)).stageBest, e.improved);
      });
      const restored = monitor.onStageEnd!({
        stageEpoch: c.epochs.length,
        done: true,
        stoppedEarly: false,
        earlyStopping: { best: 0, bestEpoch: c.bestEpoch, wait: 0 },
      });
      monitor.dispose!();
      assert.equal(restored, c.restored);
      assert.deepEqual(
        values(model),
        model.weights.map((w) => new Array<number>(w.shape.reduce((a, b) => a! * b!, 1)!).fill(c.weights)),
      );
      assert.equal(tf.memory().numTensors, before, 'the copies are freed');
      model.dispose();
    });
  }
});

interface Trained {
  outcome?: StageOutcome;
  error?: unknown;
  /** In call order: epoch-end events, checkpoint hooks, logs. */
  calls: string[];
  rows: EpochMetrics[];
  ends: EpochEnd[];
  /** The model's weights after each epoch, before any restore. */
  epochWeights: number[][][];
  weights: number[][];
  leaked: number;
}

async function train(planStage: PlanStage, data: BatchSource = source()): Promise<Trained> {
  const model = tinyModel();
  const before = tf.memory().numTensors;
  const result: Trained = { calls: [], rows: [], ends: [], epochWeights: [], weights: [], leaked: 0 };
  const onEvent = (event: EngineEvent): void => {
    if (event.type === 'epoch-end') result.rows.push(event.metrics);
    if (event.type !== 'batch-end')
      result.calls.push(
        event.type === 'log'
          ? `log: ${event.message}`
          : `${event.type} ${event.type === 'epoch-end' ? event.metrics.epoch : ''}`,
      );
  };
  const onEpochEnd = async (end: EpochEnd): Promise<void> => {
    result.calls.push(`checkpoint ${end.metrics.epoch}`);
    result.ends.push(end);
    result.epochWeights.push(values(model));
  };
  try {
    result.outcome = await trainStage(
      model,
      planStage,
      { train: data },
      'softmaxCrossEntropyFromLogits',
      new SeededRandom(1),
      { onEvent, onEpochEnd },
    );
  } catch (error) {
    result.error = error;
  }
  result.weights = values(model);
  result.leaked = tf.memory().numTensors - before;
  model.dispose();
  return result;
}

describe('a stage trained with its monitors', () => {
  const cases: { name: string; stage: PlanStage; data?: BatchSource; check: (t: Trained) => void }[] = [
    {
      name: "early stopping with restoreBest ends the stage at its patience and puts back the best epoch's weights",
      stage: stage({ earlyStopping: EARLY }),
      check: (t) => {
        assert.deepEqual(t.outcome, { epochsRun: 2, stoppedEarly: true, restoredEpoch: 1, lastLearningRate: LR });
        assert.deepEqual(t.weights, t.epochWeights[0]);
        assert.notDeepEqual(t.weights, t.epochWeights[1]);
        assert.deepEqual(
          t.ends.map((e) => [e.stageBest, e.state.done, e.state.stoppedEarly]),
          [
            [true, false, false],
            [false, true, true],
          ],
        );
      },
    },
    {
      name: 'the epoch is reported before its checkpoint, which sees the settled state',
      stage: stage({ epochs: 2 }),
      check: (t) => {
        assert.deepEqual(t.calls, ['epoch-end 1', 'checkpoint 1', 'epoch-end 2', 'checkpoint 2']);
        assert.deepEqual(
          t.ends.map((e) => e.state),
          [
            { stageEpoch: 1, done: false, stoppedEarly: false },
            { stageEpoch: 2, done: true, stoppedEarly: false },
          ],
        );
        assert.deepEqual(t.outcome, { epochsRun: 2, stoppedEarly: false, lastLearningRate: LR });
      },
    },
    {
      name: 'plateau lowers the rate of the epochs after it and says so before the epoch is reported',
      stage: stage({ epochs: 3, reduceLROnPlateau: PLATEAU }),
      check: (t) => {
        assert.deepEqual(
          t.rows.map((r) => r.lr),
          [LR, LR, LR / 2],
        );
        assert.equal(t.outcome?.lastLearningRate, LR / 4);
        assert.deepEqual(
          t.calls.filter((c) => c.startsWith('log') || c.startsWith('epoch')),
          [
            'epoch-end 1',
            'log: stage s, epoch 2: loss has not improved for 1 epoch(s); learning rate ×0.5',
            'epoch-end 2',
            'log: stage s, epoch 3: loss has not improved for 1 epoch(s); learning rate ×0.5',
            'epoch-end 3',
          ],
        );
      },
    },
    {
      name: "a NaN loss ends the stage with the user's error, after no epoch, leaving no tensor behind",
      stage: stage({ earlyStopping: EARLY, reduceLROnPlateau: PLATEAU }),
      data: source(true),
      check: (t) => {
        assert.ok(t.error instanceof UserError, String(t.error));
        assert.equal(t.error.message, 'the loss became NaN in stage `s`, epoch 1, batch 1/3');
        assert.deepEqual(t.calls, []);
      },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const trained = await train(c.stage, c.data);
      c.check(trained);
      assert.equal(trained.leaked, 0, 'tensors leaked');
      // Live tensors are the same after every epoch: nothing leaks from one to the next.
      assert.equal(
        new Set(trained.rows.map((r) => r.tensors)).size <= 1,
        true,
        trained.rows.map((r) => r.tensors).join(', '),
      );
    });
  }
});

/** What a checkpoint after epoch `at` holds, taken in the checkpoint hook; the stage is then interrupted. */
interface Checkpoint {
  state: StageState;
  optimizers: OptimizerSnapshot[];
  weights: tf.Tensor[];
  bestWeights?: tf.NamedTensorMap;
  shuffle: number;
}

async function trainInterrupted(planStage: PlanStage, at: number): Promise<Checkpoint> {
  const model = tinyModel();
  const shuffle = new SeededRandom(1);
  const controller = new AbortController();
  let best: tf.NamedTensorMap | undefined;
  let checkpoint: Checkpoint | undefined;
  const onEpochEnd = async (end: EpochEnd): Promise<void> => {
    if (end.stageBest) {
      tf.dispose(Object.values(best ?? {}));
      best = Object.fromEntries(model.weights.map((w) => [w.originalName, tf.clone(w.read())]));
    }
    if (end.metrics.stageEpoch !== at) return;
    const snapshots = await Promise.all(end.optimizers.map((o) => optimizerState(o.optimizer)));
    // The optimizers' own variables die with the stage: a checkpoint holds copies.
    const optimizers = snapshots.map((s) => ({
      ...s,
      weights: s.weights.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) })),
    }));
    checkpoint = {
      state: end.state,
      optimizers,
      weights: model.weights.map((w) => tf.clone(w.read())),
      ...(best ? { bestWeights: best } : {}),
      shuffle: shuffle.snapshot(),
    };
    controller.abort();
  };
  await assert.rejects(
    trainStage(model, planStage, { train: source() }, 'softmaxCrossEntropyFromLogits', shuffle, {
      onEvent: () => undefined,
      signal: controller.signal,
      onEpochEnd,
    }),
    RunInterrupted,
  );
  model.dispose();
  return checkpoint!;
}

async function trainResumed(
  planStage: PlanStage,
  checkpoint: Checkpoint,
): Promise<{ rows: EpochMetrics[]; outcome: StageOutcome; weights: number[][] }> {
  const model = tinyModel();
  model.setWeights(checkpoint.weights);
  const shuffle = new SeededRandom(1);
  shuffle.restore(checkpoint.shuffle);
  const rows: EpochMetrics[] = [];
  const onEvent = (event: EngineEvent): void => void (event.type === 'epoch-end' && rows.push(event.metrics));
  const resume = {
    state: checkpoint.state,
    optimizers: checkpoint.optimizers,
    ...(checkpoint.bestWeights ? { bestWeights: checkpoint.bestWeights } : {}),
  };
  const outcome = await trainStage(
    model,
    planStage,
    { train: source() },
    'softmaxCrossEntropyFromLogits',
    shuffle,
    { onEvent, onEpochEnd: async () => undefined },
    resume,
  );
  const weights = values(model);
  model.dispose();
  tf.dispose([
    ...checkpoint.weights,
    ...Object.values(checkpoint.bestWeights ?? {}),
    ...checkpoint.optimizers.flatMap((o) => o.weights.map((w) => w.tensor)),
  ]);
  return { rows, outcome, weights };
}

describe('a stage resumed from its checkpoint after epoch 2 ends as the uninterrupted stage, bit for bit', () => {
  const withoutTimes = (rows: EpochMetrics[]): Omit<EpochMetrics, 'seconds' | 'tensors'>[] =>
    rows.map(({ seconds: _s, tensors: _t, ...row }) => row);
  const cases: { name: string; stage: PlanStage }[] = [
    {
      name: 'sgd with momentum, plateau reductions before and after the checkpoint',
      stage: stage({ epochs: 4, optimizer: { name: 'sgd', momentum: 0.9 }, reduceLROnPlateau: PLATEAU }),
    },
    {
      name: 'adam, early stopping that restores an epoch before the checkpoint',
      stage: stage({ epochs: 5, earlyStopping: { ...EARLY, patience: 3 } }),
    },
    {
      name: 'adamw with weight decay, early stopping and plateau together',
      stage: stage({
        epochs: 4,
        optimizer: { name: 'adamw', weightDecay: 0.1 },
        earlyStopping: { ...EARLY, patience: 5 },
        reduceLROnPlateau: PLATEAU,
      }),
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const whole = await train(c.stage);
      assert.equal(whole.error, undefined);
      const resumed = await trainResumed(c.stage, await trainInterrupted(c.stage, 2));
      assert.deepEqual(withoutTimes(resumed.rows), withoutTimes(whole.rows.slice(2)));
      assert.deepEqual(resumed.outcome, whole.outcome);
      assert.deepEqual(resumed.weights, whole.weights);
    });
  }
});
