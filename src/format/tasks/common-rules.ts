import type { FileRule } from '../rules.js';

/** A task that trains a head needs one written; there is no default head. */
export const headIsWritten: FileRule = (file) =>
  file.head === undefined
    ? [
        {
          path: [],
          message: `a ${file.task ?? 'classification'} pipeline needs a \`head:\` — the new layers put on the cut base`,
          hint: 'e.g. head: [{ globalAveragePooling2d: {} }, { dense: { units: classes, activation: softmax } }]',
        },
      ]
    : [];

/** Stages come from the file or from a strategy; with neither there is nothing to run. */
export const stagesOrStrategy: FileRule = (file) =>
  file.train?.stages === undefined && file.strategy === undefined
    ? [
        {
          path: file.train ? ['train'] : [],
          message: 'no training stages: write `train.stages`, or a `strategy` that fills them',
          hint: 'e.g. `strategy: head-only`, or train: { stages: [{ name: head, epochs: 10 }] }',
        },
      ]
    : [];
