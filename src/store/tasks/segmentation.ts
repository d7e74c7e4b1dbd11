import { Type } from '@sinclair/typebox';
import { readMaskGallery } from '../mask-gallery-file.js';
import { Count, Metric, stagedPlanFields } from './shared-schemas.js';
import type { TaskStore } from './task-store.js';

/** Segmentation's files: metrics per pixel and class, and masks.json, the worst test images with their masks. */
export const segmentationStore: TaskStore<'segmentation'> = {
  testMetrics: Type.Object({
    task: Type.Literal('segmentation'),
    loss: Metric,
    pixelAccuracy: Metric,
    accuracy: Metric,
    meanIoU: Metric,
    perClass: Type.Record(Type.String(), Type.Object({ iou: Metric, pixels: Count })),
    examples: Count,
    worst: Type.Array(Type.Object({ example: Type.String(), meanIoU: Metric })),
  }),
  planFields: stagedPlanFields,
  minStages: 1,
  headline: (test) => ({
    accuracy: test.pixelAccuracy,
    meanIoU: test.meanIoU,
    examples: test.examples,
    loss: test.loss,
  }),
  readReportFiles: async (dir) => {
    const masks = await readMaskGallery(dir);
    return masks ? { masks } : {};
  },
};
