import type { TaskName } from '../../format/types.js';
import { anomalyRender } from './anomaly.js';
import { classificationRender } from './classification.js';
import { segmentationRender } from './segmentation.js';
import type { TaskRender } from './task-render.js';

/** Each task's report and demo page, by the name written under `task:` (format/tasks/registry.ts lists the names). */
export const TASK_RENDERS: { readonly [T in TaskName]: TaskRender } = {
  classification: classificationRender,
  anomaly: anomalyRender,
  segmentation: segmentationRender,
};
