import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { TestMetrics } from '../engine/evaluate/metrics.js';
import type { PlanOutcome } from '../engine/run/run-plan.js';
import type { StrategyMeasurement } from '../plan/types.js';
import { writeJsonAtomic } from './atomic-write.js';

export const SUMMARY_FILE = 'summary.json';

/** summary.json: how a completed run went, written before run.json says `completed`. */
export interface RunSummary {
  status: 'completed';
  pipeline: string;
  run: string;
  backend: string;
  classes: string[];
  data: PlanOutcome['data'];
  stages: PlanOutcome['stages'];
  test?: TestMetrics;
  baseline?: { kind: 'scratch'; stages: NonNullable<PlanOutcome['baseline']>['stages']; test?: TestMetrics };
  strategy?: StrategyMeasurement;
  export: PlanOutcome['export'];
  /** Peak resident memory of the whole process and the run's wall time, for sizing machines. */
  resources: { peakRssMiB: number; seconds: number };
}

export function writeSummary(dir: string, summary: RunSummary): Promise<void> {
  return writeJsonAtomic(path.join(dir, SUMMARY_FILE), summary);
}

/** A run's summary.json, or undefined when it has none (it has not completed). */
export async function readSummary(dir: string): Promise<RunSummary | undefined> {
  const file = path.join(dir, SUMMARY_FILE);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as RunSummary;
  } catch {
    throw new UserError(`${file} is not valid JSON`, [], 'rebuild it by running the pipeline again');
  }
}
