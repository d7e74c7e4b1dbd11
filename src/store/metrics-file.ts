import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { EpochMetrics } from '../engine/events.js';
import { writeFileAtomic } from './atomic-write.js';

/** metrics.jsonl: one row per epoch of the run; baseline-metrics.jsonl: the scratch baseline's. */
export const METRICS_FILES = { run: 'metrics.jsonl', baseline: 'baseline-metrics.jsonl' } as const;
export type MetricsKind = keyof typeof METRICS_FILES;

/**
 * The rows of a metrics file, oldest first; none when it does not exist.
 * A kill mid-append leaves a torn last line, which is dropped; a broken
 * line before the last is damage, and a user error naming file:line.
 */
export async function readMetricRows(dir: string, kind: MetricsKind = 'run'): Promise<EpochMetrics[]> {
  const file = path.join(dir, METRICS_FILES[kind]);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const lines = text.split('\n');
  const rows: EpochMetrics[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line) as EpochMetrics);
    } catch {
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      if (last) break;
      throw new UserError(`${file}:${i + 1} is not a JSON line`, [], 'the metrics file is damaged before its last line');
    }
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
