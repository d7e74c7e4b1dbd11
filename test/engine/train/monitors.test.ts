import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkpointsToKeep } from '../../../src/engine/train/checkpoints.js';
import {
  INITIAL_MONITOR,
  INITIAL_PLATEAU,
  observeEarlyStopping,
  observePlateau,
  type MonitorState,
  type PlateauState,
} from '../../../src/engine/train/monitors.js';
import type { EarlyStoppingSpec, PlateauSpec } from '../../../src/format/types.js';

/** Feeds `values` (epochs 1, 2, …) through early stopping; returns the epoch it stops at (or null) and the best epoch. */
function earlyStop(spec: EarlyStoppingSpec, values: number[]): { stoppedAt: number | null; bestEpoch: number } {
  let state: MonitorState = INITIAL_MONITOR;
  for (const [i, value] of values.entries()) {
    const observed = observeEarlyStopping(spec, state, i + 1, value);
    state = observed.state;
    if (observed.stop) return { stoppedAt: i + 1, bestEpoch: state.bestEpoch };
  }
  return { stoppedAt: null, bestEpoch: state.bestEpoch };
}

const STOP: EarlyStoppingSpec = { monitor: 'val_loss', mode: 'min', patience: 2, minDelta: 0, restoreBest: true };

describe('early stopping (Keras semantics)', () => {
  const cases: {
    name: string;
    spec: EarlyStoppingSpec;
    values: number[];
    stoppedAt: number | null;
    bestEpoch: number;
  }[] = [
    {
      name: 'stops after `patience` epochs without a new minimum',
      spec: STOP,
      values: [1, 0.8, 0.9, 0.85, 0.7],
      stoppedAt: 4,
      bestEpoch: 2,
    },
    {
      name: 'a new best resets the count',
      spec: STOP,
      values: [1, 1.1, 0.9, 1.0, 0.8, 0.85, 0.86],
      stoppedAt: 7,
      bestEpoch: 5,
    },
    { name: 'never stops while improving', spec: STOP, values: [5, 4, 3, 2, 1], stoppedAt: null, bestEpoch: 5 },
    {
      name: 'minDelta: too small an improvement does not count',
      spec: { ...STOP, minDelta: 0.05 },
      values: [1, 0.97, 0.96],
      stoppedAt: 3,
      bestEpoch: 1,
    },
    {
      name: 'max mode for accuracies',
      spec: { ...STOP, monitor: 'val_accuracy', mode: 'max' },
      values: [0.5, 0.7, 0.6, 0.65],
      stoppedAt: 4,
      bestEpoch: 2,
    },
    {
      name: 'patience 0 stops at the first epoch that does not improve',
      spec: { ...STOP, patience: 0 },
      values: [1, 0.9, 0.95],
      stoppedAt: 3,
      bestEpoch: 2,
    },
    { name: 'a NaN never counts as the best', spec: STOP, values: [Number.NaN, 1, 0.9], stoppedAt: null, bestEpoch: 3 },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(earlyStop(c.spec, c.values), { stoppedAt: c.stoppedAt, bestEpoch: c.bestEpoch }));
  }
});

const PLATEAU: PlateauSpec = {
  monitor: 'val_loss',
  mode: 'min',
  factor: 0.5,
  patience: 2,
  minDelta: 0,
  cooldown: 0,
  minLearningRate: 0,
};

describe('reduce learning rate on plateau', () => {
  const cases: { name: string; spec: PlateauSpec; values: number[]; scales: number[] }[] = [
    {
      name: 'halves after 2 epochs without improvement, then counts again',
      spec: PLATEAU,
      values: [1, 1.1, 1.2, 1.3, 1.4, 0.5],
      scales: [1, 1, 0.5, 0.5, 0.25, 0.25],
    },
    { name: 'an improvement resets the wait', spec: PLATEAU, values: [1, 1.1, 0.9, 1.0, 0.8], scales: [1, 1, 1, 1, 1] },
    {
      name: 'cooldown: the epoch after a reduction is not counted',
      spec: { ...PLATEAU, cooldown: 1 },
      values: [1, 2, 2, 2, 2, 2],
      scales: [1, 1, 0.5, 0.5, 0.5, 0.25],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      let state: PlateauState = INITIAL_PLATEAU;
      const scales = c.values.map((value, i) => (state = observePlateau(c.spec, state, i + 1, value).state).scale);
      assert.deepEqual(scales, c.scales);
    });
  }
});

describe('which checkpoints are kept', () => {
  const entries = [1, 2, 3, 4, 5].map((epoch) => ({ dir: `checkpoints/epoch-00${epoch}`, epoch, stage: 's' }));
  const cases: { name: string; keepLast: number; protect: string[]; kept: number[] }[] = [
    { name: 'the newest keepLast', keepLast: 2, protect: [], kept: [4, 5] },
    { name: 'plus the best, wherever it is', keepLast: 2, protect: ['checkpoints/epoch-001'], kept: [1, 4, 5] },
    {
      name: 'a protected one among the newest is not counted twice',
      keepLast: 2,
      protect: ['checkpoints/epoch-005'],
      kept: [4, 5],
    },
    { name: 'keepLast beyond the count keeps all', keepLast: 9, protect: [], kept: [1, 2, 3, 4, 5] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { keep, remove } = checkpointsToKeep(entries, c.keepLast, new Set(c.protect));
      assert.deepEqual(
        keep.map((e) => e.epoch),
        c.kept,
      );
      assert.deepEqual(
        remove.map((e) => e.epoch),
        entries.map((e) => e.epoch).filter((e) => !c.kept.includes(e)),
      );
    });
  }
});
