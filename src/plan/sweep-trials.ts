import { DEFAULT_TASK, TASK_FORMATS, type TaskName } from '../format/tasks/registry.js';
import type { KeyPath } from '../diagnostics/diagnostic.js';
import { parseKeyPath } from '../format/overrides.js';
import { SeededRandom } from './seeded-random.js';
import type { SweepAsWritten } from '../format/schema.js';

/**
 * A sweep as it runs: its defaults filled in and each parameter's key path
 * parsed. Pure data; the trials come from `expandTrials`, and which trial is
 * best or stops early from `isBetter` and `ashaDecision`.
 */
export interface SweepSpec {
  method: 'grid' | 'random';
  metric: { name: SweepMetricName; goal: 'maximize' | 'minimize' };
  runCap?: number;
  seed: number;
  parameters: SweepParameter[];
  earlyTerminate?: { type: 'asha'; minEpochs: number; reductionFactor: number };
}

export type SweepMetricName =
  'val_accuracy' | 'val_loss' | 'test_accuracy' | 'test_loss' | 'test_auroc' | 'val_meanIoU' | 'test_meanIoU';

export interface SweepParameter {
  /** As written (`head[1].dense.units`): the override's key and the results' column. */
  name: string;
  path: KeyPath;
  values?: unknown[];
  min?: number;
  max?: number;
  distribution: 'uniform' | 'logUniform' | 'int';
}

/** One trial: the value each parameter takes, by parameter name, in the parameters' order. */
export interface TrialValues {
  index: number;
  values: Record<string, unknown>;
}

/** The sweep with its defaults; call on a file that loaded (the loader's rules checked it). */
export function resolveSweep(sweep: SweepAsWritten, pipelineSeed: number, task: TaskName = DEFAULT_TASK): SweepSpec {
  // Each task's default is the first metric its runs record (val_accuracy for classification, test_auroc for anomaly, val_meanIoU for segmentation).
  const name = sweep.metric?.name ?? TASK_FORMATS[task].sweepMetrics[0] ?? 'val_accuracy';
  return {
    method: sweep.method ?? 'grid',
    metric: { name, goal: sweep.metric?.goal ?? (name.endsWith('loss') ? 'minimize' : 'maximize') },
    ...(sweep.runCap !== undefined ? { runCap: sweep.runCap } : {}),
    seed: sweep.seed ?? pipelineSeed,
    parameters: Object.entries(sweep.parameters).map(([name, p]) => ({
      name,
      path: parseKeyPath(name)!,
      distribution: p.distribution ?? 'uniform',
      ...(p.values ? { values: p.values } : {}),
      ...(p.min !== undefined ? { min: p.min } : {}),
      ...(p.max !== undefined ? { max: p.max } : {}),
    })),
    ...(sweep.earlyTerminate
      ? {
          earlyTerminate: {
            type: 'asha' as const,
            minEpochs: sweep.earlyTerminate.minEpochs ?? 1,
            reductionFactor: sweep.earlyTerminate.reductionFactor ?? 3,
          },
        }
      : {}),
  };
}

/**
 * The trials, in order. grid: every combination, the last parameter varying
 * fastest (as itertools.product). random: `runCap` draws from a generator
 * seeded with the sweep's seed, so the same file gives the same trials.
 */
export function expandTrials(spec: SweepSpec): TrialValues[] {
  if (spec.method === 'grid') {
    let combos: Record<string, unknown>[] = [{}];
    for (const p of spec.parameters)
      combos = combos.flatMap((combo) => p.values!.map((v) => ({ ...combo, [p.name]: v })));
    return combos.map((values, index) => ({ index, values }));
  }
  const random = new SeededRandom(spec.seed);
  const next = (): number => random.next();
  return Array.from({ length: spec.runCap! }, (_, index) => ({
    index,
    values: Object.fromEntries(spec.parameters.map((p) => [p.name, draw(p, next)])),
  }));
}

function draw(p: SweepParameter, next: () => number): unknown {
  if (p.values) return p.values[Math.floor(next() * p.values.length)];
  const [min, max] = [p.min!, p.max!];
  if (p.distribution === 'int') return min + Math.floor(next() * (max - min + 1));
  // Rounded to 6 significant digits: a learning rate of 0.0031622776601683794 reads as 0.00316228 in results and run names.
  const value =
    p.distribution === 'logUniform'
      ? Math.exp(Math.log(min) + next() * (Math.log(max) - Math.log(min)))
      : min + next() * (max - min);
  return Number(value.toPrecision(6));
}

/** Whether `a` beats `b` under the sweep's goal (an absent value never does). */
export function isBetter(goal: SweepSpec['metric']['goal'], a: number | undefined, b: number | undefined): boolean {
  if (a === undefined || !Number.isFinite(a)) return false;
  if (b === undefined || !Number.isFinite(b)) return true;
  return goal === 'maximize' ? a > b : a < b;
}

/** The rung epochs of ASHA up to `lastEpoch`: minEpochs · reductionFactor^k. */
export function rungEpochs(asha: NonNullable<SweepSpec['earlyTerminate']>, lastEpoch: number): number[] {
  const rungs: number[] = [];
  for (let epoch = asha.minEpochs; epoch < lastEpoch; epoch *= asha.reductionFactor) rungs.push(epoch);
  return rungs;
}

/**
 * Asynchronous successive halving (Li et al. 2020, as Ray Tune's
 * AsyncHyperBand): a trial reaching a rung goes on when its metric is at
 * least the (1 − 1/η) quantile of the values trials recorded at that rung
 * before it; the first to arrive always goes on. `earlier` are those
 * values. Returns the reason to stop, or undefined to go on.
 */
export function ashaDecision(
  goal: SweepSpec['metric']['goal'],
  reductionFactor: number,
  value: number,
  earlier: readonly number[],
): string | undefined {
  if (earlier.length === 0) return undefined;
  const oriented = (v: number): number => (goal === 'maximize' ? v : -v);
  const sorted = earlier.map(oriented).sort((a, b) => a - b);
  const cutoff = quantile(sorted, 1 - 1 / reductionFactor);
  if (oriented(value) >= cutoff) return undefined;
  const shown = goal === 'maximize' ? cutoff : -cutoff;
  return `${round(value)} is outside the best 1/${reductionFactor} of the ${earlier.length} trial(s) that reached this rung before it (cutoff ${round(shown)})`;
}

/** Linear interpolation between order statistics (numpy's default percentile). */
function quantile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const low = Math.floor(at);
  const high = Math.ceil(at);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (at - low);
}

const round = (v: number): string => String(Number(v.toPrecision(4)));

/**
 * A finished trial's value of the sweep's metric. val_*: at the epoch whose
 * weights the trial ends with (the last stage's restored epoch, else the
 * last epoch); test_*: on the test split.
 */
export function trialMetric(
  name: SweepMetricName,
  run: {
    rows: readonly { epoch: number; val_loss?: number; val_accuracy?: number; val_meanIoU?: number }[];
    restoredEpoch?: number;
    test?: { accuracy: number; loss?: number; auroc?: number; meanIoU?: number };
  },
): number | undefined {
  if (name === 'test_accuracy') return run.test?.accuracy;
  if (name === 'test_auroc') return run.test?.auroc;
  if (name === 'test_meanIoU') return run.test?.meanIoU;
  if (name === 'test_loss') return run.test?.loss;
  const epoch = run.restoredEpoch ?? Math.max(0, ...run.rows.map((r) => r.epoch));
  return epochMetric(
    name,
    run.rows.find((r) => r.epoch === epoch),
  );
}

/** The trial's val_loss at the epoch its metric is taken from (the restored one, or the last): the first tie-break. */
export function trialValLoss(run: {
  rows: readonly { epoch: number; val_loss?: number }[];
  restoredEpoch?: number;
}): number | undefined {
  const epoch = run.restoredEpoch ?? Math.max(0, ...run.rows.map((r) => r.epoch));
  return run.rows.find((r) => r.epoch === epoch)?.val_loss;
}

/** How the best trial is chosen, as the sweep report says it. */
export function rankingRule(metric: SweepSpec['metric']): string {
  const way = metric.goal === 'maximize' ? 'highest' : 'lowest';
  return metric.name === 'val_loss'
    ? `${way} val_loss; a tie goes to the lowest trial index`
    : `${way} ${metric.name}; a tie goes to the lowest val_loss, then to the lowest trial index`;
}

/**
 * The order of two completed trials, best first (negative when `a` is
 * better): the sweep's metric, then val_loss (lower is better), then the
 * trial index, so trials that tie on the metric still have one best, the
 * same whatever order they finished in. A missing value ranks last.
 */
export function compareTrials(
  metric: SweepSpec['metric'],
  a: { index: number; metric?: number; valLoss?: number },
  b: { index: number; metric?: number; valLoss?: number },
): number {
  const byValue = (x: number | undefined, y: number | undefined, goal: SweepSpec['metric']['goal']): number => {
    const [hasX, hasY] = [x !== undefined && Number.isFinite(x), y !== undefined && Number.isFinite(y)];
    if (!hasX || !hasY) return (hasX ? 0 : 1) - (hasY ? 0 : 1);
    return x === y ? 0 : (goal === 'maximize' ? x! > y! : x! < y!) ? -1 : 1;
  };
  return byValue(a.metric, b.metric, metric.goal) || byValue(a.valLoss, b.valLoss, 'minimize') || a.index - b.index;
}

/** The validation metric of one epoch's row, as early termination compares it. */
export function epochMetric(
  name: SweepMetricName,
  row: { val_loss?: number; val_accuracy?: number; val_meanIoU?: number } | undefined,
): number | undefined {
  if (name === 'val_accuracy' || name === 'val_loss' || name === 'val_meanIoU') return row?.[name];
  return undefined;
}
