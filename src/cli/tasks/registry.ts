import type { Prediction } from '../../api/index.js';
import type { TaskName } from '../../format/types.js';
import { anomalyLines } from './anomaly.js';
import { classificationLines } from './classification.js';
import { segmentationLines } from './segmentation.js';
import type { TaskLines } from './task-lines.js';

/**
 * Each task's lines, by the name written under `task:` (format/tasks/registry.ts
 * lists the names). Getters, read when used: the staged tasks' lines come from
 * format-plan, which reaches this registry again, so whichever module loads
 * first, no entry is read before its module has run.
 */
export const TASK_LINES: { readonly [T in TaskName]: TaskLines<T> } = {
  get classification() {
    return classificationLines;
  },
  get anomaly() {
    return anomalyLines;
  },
  get segmentation() {
    return segmentationLines;
  },
};

/** One prediction on a line, as the task whose answer it carries puts it (classification's when no other task's). */
export function formatPrediction(p: Prediction): string {
  const all = Object.values(TASK_LINES) as TaskLines<TaskName>[];
  const others = all.filter((lines) => lines !== TASK_LINES.classification);
  return (others.find((lines) => lines.answers(p)) ?? TASK_LINES.classification).prediction(p);
}
