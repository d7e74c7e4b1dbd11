import { UserError } from '../../diagnostics/user-error.js';
import { closestMatches } from '../../diagnostics/did-you-mean.js';
import { featureRowsOf, readFeatureRows } from '../../engine/data/feature-rows.js';
import { preparedImages } from '../../engine/evaluate/exported-model.js';
import { explainImages } from '../../engine/evaluate/explain-images.js';
import { decidedPredictions } from '../../engine/evaluate/decided-predictions.js';
import { collectImageFiles, predictImages, predictRows, wrongInput } from '../../engine/evaluate/predict.js';
import type { LoadedModel, OpenedModel, Prediction } from '../load-model.js';
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
  // decision.json (calibration, threshold, abstain): the rule needs every class's probability, then answers with `top` of them.
  const rule = exported.decision;
  const asked = (top: number | undefined) => Math.min(top ?? 3, exported.labels.length);
  const made = (top: number | undefined) => (rule ? exported.labels.length : asked(top));
  const answered = (predictions: Prediction[], top: number | undefined) =>
    rule ? decidedPredictions(predictions, rule, exported.labels, asked(top)) : predictions;
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
        made(classifyOptions.top),
        tta,
      );
      return {
        predictions: answered(classified.predictions, classifyOptions.top),
        failures: [...collected.failures, ...classified.failures],
      };
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
      const predicted = predictRows(model, exported.labels, pre, outputs, read, made(predictOptions.top));
      return { predictions: answered(predicted, predictOptions.top) };
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
      ? answerRows(loaded, inputs, (top, p) => classAnswer(loaded.labels, top, p))
      : answerImages(
          inputs,
          async (images) => {
            const { predictions, failures } = await loaded.classify(images, { top: loaded.labels.length });
            return { items: predictions, failures };
          },
          (p) => classAnswer(loaded.labels, p.top, p),
        ),
};
