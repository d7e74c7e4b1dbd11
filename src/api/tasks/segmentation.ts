import { segmentsPixels } from '../../engine/tasks/segmentation/segment-files.js';
import { evaluateSegmentationModel } from '../evaluate-segmentation.js';
import { segmenterOf, writeMasks } from '../segmentation-model.js';
import type { TaskModel } from './task-model.js';

/** Segmentation: a LayersModel whose output is a class score per pixel; `predict --out` writes its masks. */
export const segmentationModel: TaskModel = {
  opens: 'model',
  holds: segmentsPixels,
  open: segmenterOf,
  predictInto: writeMasks,
  evaluate: evaluateSegmentationModel,
};
