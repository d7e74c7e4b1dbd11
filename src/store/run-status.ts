import { stat } from 'node:fs/promises';
import path from 'node:path';
import { readMetricRows } from './metrics-file.js';
import { onThisHost, RUN_FILE, type RunRecord, type RunStatus } from './run-record.js';
import { readSummary } from './summary-file.js';
import type { EpochMetrics } from '../engine/events.js';

/**
 * The validation scores a run's best epoch is chosen by, the first its rows
 * record: mean IoU where the task measures it (segmentation, whose accuracy
 * is dominated by the background's pixels), else accuracy.
 */
const VALIDATION_SCORES = ['val_meanIoU', 'val_accuracy'] as const;
type ValidationScore = (typeof VALIDATION_SCORES)[number];

/** How often a running run touches its heartbeat file. */
export const HEARTBEAT_MS = 10_000;
/** A heartbeat older than this means the process is gone, even if its pid was reused. */
export const HEARTBEAT_STALE_MS = 5 * 60_000;
export const HEARTBEAT_FILE = '.heartbeat';

/** Whether a process with this pid exists (other than this one). */
export function isAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A run's status as it really is: run.json says `running` until the process
 * records an end, so a process that was killed would look running forever.
 * On this machine it is running only while its pid is alive and its
 * heartbeat is fresh (or not yet written). On another machine sharing the
 * runs folder its pid means nothing here: it is running while its heartbeat
 * is fresh, and without one (`heartbeatAgeMs` undefined) it is not.
 */
export function effectiveStatus(
  record: Pick<RunRecord, 'status' | 'pid' | 'host'>,
  heartbeatAgeMs: number | undefined,
): RunStatus {
  if (record.status !== 'running') return record.status;
  const stale = heartbeatAgeMs !== undefined && heartbeatAgeMs > HEARTBEAT_STALE_MS;
  if (!onThisHost(record)) return heartbeatAgeMs === undefined || stale ? 'interrupted' : 'running';
  if (!isAlive(record.pid)) return 'interrupted';
  return stale ? 'interrupted' : 'running';
}

/**
 * When a run last showed it was alive, as a time (ms): its heartbeat's last
 * touch. A run of another machine that has not touched its heartbeat yet (it
 * starts when training does) counts from run.json's last write instead, since
 * its pid cannot be asked. `heartbeatAt` is the heartbeat's own time, if any.
 */
async function lastSignOfLife(
  dir: string,
  record: Pick<RunRecord, 'host'>,
): Promise<{ aliveAt?: number; heartbeatAt?: number }> {
  const heartbeat = await stat(path.join(dir, HEARTBEAT_FILE)).catch(() => undefined);
  if (heartbeat) return { aliveAt: heartbeat.mtimeMs, heartbeatAt: heartbeat.mtimeMs };
  if (onThisHost(record)) return {};
  const written = await stat(path.join(dir, RUN_FILE)).catch(() => undefined);
  return written ? { aliveAt: written.mtimeMs } : {};
}

/** How long ago a run last showed it was alive (see lastSignOfLife); undefined when neither file is there. */
export async function heartbeatAgeMs(
  dir: string,
  record: Pick<RunRecord, 'host'>,
  now = Date.now(),
): Promise<number | undefined> {
  const { aliveAt } = await lastSignOfLife(dir, record);
  return aliveAt === undefined ? undefined : now - aliveAt;
}

/** The run's status as it really is, from its folder (see effectiveStatus). */
export async function statusOf(dir: string, record: RunRecord, now = Date.now()): Promise<RunStatus> {
  return record.status === 'running' ? effectiveStatus(record, await heartbeatAgeMs(dir, record, now)) : record.status;
}

/** One row of `tlpipe runs`: the record plus what its files say about how it went. */
export interface RunOverview {
  dir: string;
  pipeline: string;
  id: string;
  status: RunStatus;
  startedAt: string;
  seconds: number | null;
  backend: string | null;
  /** The best validation score over all epochs (mean IoU where measured, else accuracy; without either, the lowest training loss). */
  best: { metric: string; value: number; epoch: number } | null;
  testAccuracy: number | null;
  git: { commit: string; dirty: boolean } | null;
  record: RunRecord;
}

export async function overviewOf(dir: string, record: RunRecord, now = Date.now()): Promise<RunOverview> {
  // One look at the folder for both: whether the run is alive, and when an interrupted one last was.
  const { aliveAt, heartbeatAt } = await lastSignOfLife(dir, record);
  const status = effectiveStatus(record, aliveAt === undefined ? undefined : now - aliveAt);
  // A listing shows what it can: a damaged file leaves its columns empty rather than hiding the run.
  const rows = await readMetricRows(dir).catch(() => []);
  const summary = await readSummary(dir).catch(() => undefined);
  // A diverged epoch records null: only numbers compete for the best.
  const scored = (metric: ValidationScore): EpochMetrics[] =>
    rows.filter((r) => typeof r[metric] === 'number' && Number.isFinite(r[metric]));
  const byScore = VALIDATION_SCORES.map((metric) => ({ metric, rows: scored(metric) })).find((s) => s.rows.length > 0);
  const withLoss = rows.filter((r) => typeof r.loss === 'number' && Number.isFinite(r.loss));
  const bestScore = byScore && byScore.rows.reduce((a, b) => (b[byScore.metric]! > a[byScore.metric]! ? b : a));
  const bestLoss = withLoss.length > 0 ? withLoss.reduce((a, b) => (b.loss < a.loss ? b : a)) : undefined;
  const ended = record.endedAt ? Date.parse(record.endedAt) : status === 'running' ? now : heartbeatAt;
  return {
    dir,
    pipeline: record.pipeline,
    id: record.id,
    status,
    startedAt: record.startedAt,
    seconds: ended === undefined ? null : (ended - Date.parse(record.startedAt)) / 1000,
    backend: record.backend,
    best:
      byScore && bestScore
        ? { metric: byScore.metric, value: bestScore[byScore.metric]!, epoch: bestScore.epoch }
        : bestLoss
          ? { metric: 'loss', value: bestLoss.loss, epoch: bestLoss.epoch }
          : null,
    testAccuracy: summary?.test?.accuracy ?? null,
    git: record.git ? { commit: record.git.commit, dirty: record.git.dirty } : null,
    record,
  };
}
