import type { TaskName } from '../../format/types.js';
import { planAnomaly } from './anomaly.js';
import { planClassification } from './classification.js';
import { planSegmentation } from './segmentation.js';
import type { TaskPlanner } from './task-planner.js';

/** Each task's planner, by the name written under `task:` (format/tasks/registry.ts lists the names). */
export const TASK_PLANNERS: { readonly [T in TaskName]: TaskPlanner } = {
  classification: planClassification,
  anomaly: planAnomaly,
  segmentation: planSegmentation,
};
