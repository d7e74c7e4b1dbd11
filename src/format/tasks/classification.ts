import { headIsWritten, stagesOrStrategy } from './common-rules.js';
import type { TaskFormat } from './task-format.js';

/** One label per example, from a head that ends in a dense layer with `units: classes`. */
export const classificationFormat: TaskFormat = {
  description:
    'classification (the default): one class per example (image or row), scored by accuracy, per-class F1 and a confusion matrix',
  ownKeys: [],
  fileRules: [headIsWritten, stagesOrStrategy],
  // Its checks on the resolved head (it ends in a classifier, `units: classes` only last) are still common rules.
  rules: [],
  sweepMetrics: ['val_accuracy', 'val_loss', 'test_accuracy', 'test_loss'],
};
