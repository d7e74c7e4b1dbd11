import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { UserError } from '../diagnostics/user-error.js';
import type { EpochMetrics } from '../engine/events.js';
import { readBackIfPresent } from '../platform/read-back.js';
import { writeFileAtomic } from './atomic-write.js';
import { shapeProblem } from './read-back-shape.js';

/** metrics.jsonl: one row per epoch of the run; baseline-metrics.jsonl: the scratch baseline's. */
export const METRICS_FILES = { run: 'metrics.jsonl', baseline: 'baseline-metrics.jsonl' } as const;
export type MetricsKind = keyof typeof METRICS_FILES;

/** A value JSON could not hold (NaN: a diverged loss) was written as null. */
const Metric = Type.Union([Type.Number(), Type.Null()]);
/** What every reader of a row uses (runs, compare, report, evaluate, a sweep); other fields are kept as they are. */
export const MetricRowSchema = Type.Object({
  stage: Type.String({ minLength: 1 }),
  epoch: Type.Integer({ minimum: 1 }),
  stageEpoch: Type.Optional(Type.Integer({ minimum: 1 })),
  loss: Metric,
  accuracy: Metric,
  val_loss: Type.Optional(Metric),
  val_accuracy: Type.Optional(Metric),
  val_meanIoU: Type.Optional(Metric),
  lr: Type.Optional(Metric),
  coral_loss: Type.Optional(Metric),
  domain_loss: Type.Optional(Metric),
  domain_accuracy: Type.Optional(Metric),
  learningRates: Type.Optional(Type.Record(Type.String(), Metric)),
  sourceShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  sourceWeightShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  seconds: Type.Optional(Type.Number()),
});

/**
 * The rows of a metrics file, oldest first; none when it does not exist.
 * Read back bounded, a regular file inside the run folder (a FIFO or a link
 * to /dev/zero is refused at once). A kill mid-append leaves a torn last
 * line, which is dropped; any other line that is not JSON, or not a row
 * (`null`, `{}`, a row without its stage or epoch), is damage: a user error
 * naming file:line and what a row holds.
 */
export async function readMetricRows(dir: string, kind: MetricsKind = 'run'): Promise<EpochMetrics[]> {
  const name = METRICS_FILES[kind];
  const file = path.join(dir, name);
  const hint =
    'the metrics file was damaged or edited by hand; restore it from where the run folder is kept (git), or run the pipeline again';
  const bytes = await readBackIfPresent(dir, name, { what: 'metrics file', kind: 'text', hint });
  const lines = bytes ? bytes.toString('utf8').split('\n') : [];
  const rows: EpochMetrics[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      if (last) break;
      throw new UserError(`${file}:${i + 1} is not a JSON line`, [], hint);
    }
    const problem = shapeProblem(MetricRowSchema, row, 'the line');
    if (problem !== undefined)
      throw new UserError(
        `${file}:${i + 1} is not a metrics row (an object with stage, epoch, loss and accuracy): ${problem}`,
        [],
        hint,
      );
    rows.push(row as EpochMetrics);
  }
  return rows;
}

/** One row appended whole, in one write. */
export function appendMetricRow(dir: string, row: EpochMetrics, kind: MetricsKind = 'run'): Promise<void> {
  return appendFile(path.join(dir, METRICS_FILES[kind]), JSON.stringify(row) + '\n');
}

/** Keeps the rows up to `lastEpoch` (a resumed run computes the rest again), dropping a torn last line. */
export async function truncateMetricRows(dir: string, lastEpoch: number, kind: MetricsKind = 'run'): Promise<void> {
  const kept = (await readMetricRows(dir, kind)).filter((row) => row.epoch <= lastEpoch);
  await writeFileAtomic(path.join(dir, METRICS_FILES[kind]), kept.map((row) => JSON.stringify(row) + '\n').join(''));
}
