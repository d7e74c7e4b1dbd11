import { UserError } from '../../diagnostics/user-error.js';
import { closestMatches } from '../../diagnostics/did-you-mean.js';
import { featureRowsOf, readFeatureRows } from '../../engine/data/feature-rows.js';
import { preparedImages } from '../../engine/evaluate/exported-model.js';
import { explainImages } from '../../engine/evaluate/explain-images.js';
import { collectImageFiles, predictImages, predictRows, wrongInput } from '../../engine/evaluate/predict.js';
import type { LoadedModel, OpenedModel } from '../load-model.js';
import { evaluateClassifier } from '../evaluate.js';
import type { TaskModel } from './task-model.js';
import { answerImages, answerRows, classAnswer } from './answer-batches.js';
import { checkedTransforms, ttaNeedsImages } from '../tta-option.js';

/**
 * A classifier as a LoadedModel: classify() and explain() for images,
 * predict() for table rows.
 */
function classifierOf({ model, exported, outputs }: OpenedModel): LoadedModel {
  const pre = exported.preprocessing;
  return {
    task: 'classification',
    model,
    labels: exported.labels,
    preprocessing: pre,
    outputs,
    preprocess: (images) => preparedImages(images, pre),
    async classify(inputs, classifyOptions = {}) {
      const tta = checkedTransforms(classifyOptions.tta);
      if (tta.length > 0 && pre.kind === 'tabular') throw ttaNeedsImages();
      const collected = await collectImageFiles(inputs);
      const classified = await predictImages(
        model,
        exported.labels,
        pre,
        outputs,
        collected.files,
        Math.min(classifyOptions.top ?? 3, exported.labels.length),
        tta,
      );
      return { predictions: classified.predictions, failures: [...collected.failures, ...classified.failures] };
    },
    async explain(inputs, explainOptions = {}) {
      const ask = (explainOptions.classes ?? []).map((label) => {
        const index = exported.labels.indexOf(label);
        if (index < 0) {
          const near = closestMatches(label, exported.labels);
          throw new UserError(
            `the model has no class \`${label}\``,
            [],
            near.length > 0
              ? `did you mean ${near.map((n) => `\`${n}\``).join(' or ')}?`
              : `its classes: ${exported.labels.join(', ')}`,
          );
        }
        return index;
      });
      const collected = await collectImageFiles(inputs);
      const explained = await explainImages(model, exported.labels, pre, outputs, collected.files, {
        top: Math.min(explainOptions.top ?? 3, exported.labels.length),
        ask,
        ...(explainOptions.layer ? { layer: explainOptions.layer } : {}),
      });
      return { ...explained, failures: [...collected.failures, ...explained.failures] };
    },
    async predict(rows, predictOptions = {}) {
      if (pre.kind !== 'tabular') throw wrongInput(pre, 'rows');
      const read =
        typeof rows === 'string'
          ? await readFeatureRows(rows, pre.columns, { column: '', required: false })
          : featureRowsOf(rows, pre.columns);
      const top = Math.min(predictOptions.top ?? 3, exported.labels.length);
      return { predictions: predictRows(model, exported.labels, pre, outputs, read, top) };
    },
    score: () =>
      Promise.reject(
        new UserError(
          'this model classifies; score() is for anomaly models (task: anomaly)',
          [],
          'use classify() for the classes of each image',
        ),
      ),
    segment: () =>
      Promise.reject(
        new UserError(
          'this model classifies; segment() is for segmentation models (task: segmentation)',
          [],
          'use classify()',
        ),
      ),
    dispose: () => model.dispose(),
  };
}

/** Classification: any tfjs LayersModel with one score per class; the default, when no other task claims the model. */
export const classificationModel: TaskModel = {
  opens: 'model',
  holds: () => true,
  open: classifierOf,
  evaluate: evaluateClassifier,
  serve: (loaded, inputs) =>
    loaded.preprocessing.kind === 'tabular'
      ? answerRows(loaded, inputs, (top) => classAnswer(loaded.labels, top))
      : answerImages(
          inputs,
          async (images) => {
            const { predictions, failures } = await loaded.classify(images, { top: loaded.labels.length });
            return { items: predictions, failures };
          },
          (p) => classAnswer(loaded.labels, p.top),
        ),
};
