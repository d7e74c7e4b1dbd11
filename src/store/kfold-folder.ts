/**
 * A k-fold cross-validation's own files, in runs/<pipeline>/kfold/<NNNN>-<fp8>/.
 * The folds run as the trials of a sweep record (sweep.json, trials/, owned
 * by sweep-folder.ts): each fold is an ordinary run folder beside the
 * pipeline's other runs, linked from its trial state. This module owns
 * what only a k-fold run has: folds.json (which examples are in which
 * fold), summary.json (every metric per fold, mean ± standard deviation)
 * and report.html.
 */
import path from 'node:path';
import type { MetricOverFolds } from '../plan/fold-metrics.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';

export const KFOLD_DIR = 'kfold';
export const FOLDS_FILE = 'folds.json';
export const KFOLD_SUMMARY_FILE = 'summary.json';
export const KFOLD_REPORT_FILE = 'report.html';

/** folds.json: the assignment, deterministic from the labels, k and the seed (plan/stratified-folds.ts). */
export interface FoldsRecord {
  k: number;
  seed: number;
  /** How the folds were drawn. */
  method: 'stratified';
  /** The examples the folds divide: train then validation as the pipeline selects them, as indexes into the data's training split. */
  pool: number[];
  /** The fold (1..k) of each pool example, by position in `pool`. */
  foldOf: number[];
  /** Each fold's size and examples per class (class names in label order). */
  folds: { fold: number; examples: number; perClass: Record<string, number> }[];
  /** Examples of the test split, which every fold is evaluated on and none trains or validates on. */
  test: number;
}

export interface FoldRunSummary {
  fold: number;
  status: string;
  /** `<pipeline>/<NNNN>-<fp8>`: the fold's run folder, under the runs folder. */
  run?: string;
  /** The fold's metrics: val_* at the epoch whose weights it ends with (restored, else last), test_* on the test split. */
  metrics: Record<string, number>;
  reason?: string;
}

/** summary.json of a k-fold run. */
export interface KfoldSummary {
  kind: 'kfold';
  status: 'completed' | 'failed' | 'interrupted';
  pipeline: string;
  id: string;
  k: number;
  seed: number;
  /** Why it did not complete: the failed folds' reasons. */
  error?: string;
  /** What the standard deviation is. */
  std: 'sample (n - 1)';
  folds: FoldRunSummary[];
  /** Every metric a fold has: its value in each fold (fold 1 first), mean and standard deviation. */
  metrics: Record<string, MetricOverFolds>;
  /**
   * No model of its own: each fold exported the model it trained (in its
   * run folder); nothing is trained on all of train+validation.
   */
  model: null;
}

export function writeFolds(dir: string, folds: FoldsRecord): Promise<void> {
  return writeJsonAtomic(path.join(dir, FOLDS_FILE), folds);
}

export function writeKfoldSummary(dir: string, summary: KfoldSummary): Promise<void> {
  return writeJsonAtomic(path.join(dir, KFOLD_SUMMARY_FILE), summary);
}

/** The renderer of the k-fold report page, handed in from above the store (src/render/). */
export type KfoldReportRenderer = (summary: KfoldSummary) => string;

export async function writeKfoldReport(
  dir: string,
  summary: KfoldSummary,
  render: KfoldReportRenderer,
): Promise<string> {
  const file = path.join(dir, KFOLD_REPORT_FILE);
  await writeFileAtomic(file, render(summary));
  return file;
}
