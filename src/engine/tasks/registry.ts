import type { TaskName } from '../../format/types.js';
import { anomalyEngine } from './anomaly.js';
import { classificationEngine } from './classification.js';
import { segmentationEngine } from './segmentation.js';
import type { TaskEngine } from './task-engine.js';

/** Each task's part of running a plan, by the name written under `task:` (format/tasks/registry.ts lists the names). */
export const TASK_ENGINES: { readonly [T in TaskName]: TaskEngine } = {
  classification: classificationEngine,
  anomaly: anomalyEngine,
  segmentation: segmentationEngine,
};
