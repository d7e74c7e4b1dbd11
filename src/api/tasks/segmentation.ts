import { segmentsPixels } from '../../engine/tasks/segmentation/segment-files.js';
import { evaluateSegmentationModel } from '../evaluate-segmentation.js';
import { segmenterOf, writeMasks } from '../segmentation-model.js';
import type { TaskModel } from './task-model.js';
import { maskPng } from '../../engine/evaluate/mask-image.js';
import { answerImages } from './answer-batches.js';

/** Segmentation: a LayersModel whose output is a class score per pixel; `predict --out` writes its masks. */
export const segmentationModel: TaskModel = {
  opens: 'model',
  holds: segmentsPixels,
  open: segmenterOf,
  predictInto: writeMasks,
  evaluate: evaluateSegmentationModel,
  // The mask as `predict --out` writes it: a PNG of class indexes at the model's input size.
  serve: (loaded, inputs) =>
    answerImages(
      inputs,
      async (images) => {
        const { segmentations, failures } = await loaded.segment(images);
        return { items: segmentations, failures };
      },
      async (s) => ({
        label: Object.entries(s.fractions).reduce((a, b) => (b[1] > a[1] ? b : a))[0],
        fractions: s.fractions,
        mask: {
          height: s.mask.height,
          width: s.mask.width,
          png: Buffer.from(await maskPng(s.mask)).toString('base64'),
        },
      }),
    ),
};
