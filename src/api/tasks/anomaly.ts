import { isAnomalyModelFolder, openAnomalyModel } from '../anomaly-model.js';
import { evaluateAnomalyModel } from '../evaluate-anomaly.js';
import type { TaskModel } from './task-model.js';

/** Anomaly: the cut base with its memory bank and threshold beside it, opened and cross-checked as one. */
export const anomalyModel: TaskModel = {
  opens: 'folder',
  holds: isAnomalyModelFolder,
  open: openAnomalyModel,
  evaluate: evaluateAnomalyModel,
};
