import type { TaskFormat } from './task-format.js';

/** One label per example, from a head that ends in a dense layer with `units: classes`. */
export const classificationFormat: TaskFormat = {
  description: 'classification: one class per example (image or row), scored by accuracy, per-class F1 and a confusion matrix',
  // Its checks (the head ends in a classifier, `units: classes` only last) are today's common rules.
  rules: [],
};
