import { anomalyFormat } from './anomaly.js';
import { classificationFormat } from './classification.js';
import { segmentationFormat } from './segmentation.js';
import type { TaskFormat } from './task-format.js';

/**
 * Every task tlpipe runs, by the name written under `task:`. Adding a task
 * is one module per layer (the tasks/ folders of format, plan, engine, store, render, api and cli) and one
 * line in each registry; each registry is typed by `TaskName`, so a task
 * missing from one of them does not compile.
 */
export const TASK_FORMATS = {
  classification: classificationFormat,
  anomaly: anomalyFormat,
  segmentation: segmentationFormat,
} as const satisfies Record<string, TaskFormat>;

export type TaskName = keyof typeof TASK_FORMATS;
export const TASK_NAMES = Object.keys(TASK_FORMATS) as TaskName[];
export const DEFAULT_TASK: TaskName = 'classification';
