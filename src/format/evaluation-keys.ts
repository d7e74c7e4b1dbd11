/**
 * `evaluate:` — how a classification run is judged and what it adds to the
 * exported model beyond its weights: k-fold cross-validation, temperature
 * calibration, a tuned two-class threshold, abstention, test-time
 * augmentation and the data audit. Declared here once: the schema part, its
 * resolved form and the rules only these keys need.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { SpecRule, RuleFinding } from './rules.js';
import { Enum, withDefault } from './schema-kit.js';
import { KNOWN_CLASS_COUNTS } from './zoo-catalog.js';
import { datasetInput } from './dataset-formats/input.js';

export const TTA_TRANSFORMS = ['flip', 'crops'] as const;
export type TtaTransform = (typeof TTA_TRANSFORMS)[number];
export const THRESHOLD_METRICS = ['f1', 'balancedAccuracy', 'precisionAtRecall'] as const;
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];

export const evaluationKeys = Type.Object(
  {
    folds: Type.Optional(
      Type.Integer({
        description:
          "k-fold cross-validation: split train+validation into this many stratified, seeded folds (the test split is untouched); each fold trains on the others and validates on itself, as an ordinary run folder under this run. summary.json and report.html give every metric per fold and as mean ± standard deviation. The frozen base's features are extracted once and shared by every fold through the stage cache. `tlpipe run --folds k` sets it.",
        minimum: 2,
        maximum: 20,
      }),
    ),
    fold: Type.Optional(
      Type.Integer({
        description:
          'With `folds`: run this one fold alone (1..folds) as an ordinary run, training on the other folds and validating on this one. The k-fold run sets it for each of its fold runs; set it yourself to run or repeat one fold.',
        minimum: 1,
        maximum: 20,
      }),
    ),
    calibrate: Type.Optional(
      Enum(['none', 'temperature'], {
        description:
          'temperature: after training, fit one temperature T on the validation split (minimising the negative log-likelihood of softmax(logits / T)) and store it with the exported model, so predict, loadModel, serve and the browser page give calibrated probabilities. The report shows the reliability diagram and expected calibration error before and after. Needs a validation split other than the test split.',
        default: 'none',
      }),
    ),
    threshold: Type.Optional(
      Type.Object(
        {
          metric: Enum(THRESHOLD_METRICS, {
            description:
              'What the threshold maximises on the validation split: f1 (of the positive class), balancedAccuracy, or precisionAtRecall (the highest precision among thresholds whose recall is at least `recall`).',
          }),
          recall: Type.Optional(
            Type.Number({
              description: 'For precisionAtRecall: the recall the threshold must keep.',
              exclusiveMinimum: 0,
              maximum: 1,
            }),
          ),
          positive: Type.Optional(
            Type.String({
              description: "The positive class's name. Default: the second class (in labels.json order).",
              minLength: 1,
            }),
          ),
        },
        {
          description:
            "Two classes only: a decision threshold on the positive class's probability, tuned on the validation split and stored with the exported model; predict answers the positive class when its probability reaches it. The test metrics are given with it and with argmax.",
          additionalProperties: false,
        },
      ),
    ),
    abstain: Type.Optional(
      Type.Number({
        description:
          'A confidence (the top probability, after calibration) below which predict, loadModel and serve answer "unsure" instead of a class. The test metrics give the coverage and the accuracy on the answered examples.',
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
      }),
    ),
    tta: Type.Optional(
      Type.Array(Enum(TTA_TRANSFORMS), {
        description:
          'Test-time augmentation on the test split: probabilities averaged over deterministic views of each image, always including the image itself (flip: the image and its mirror, 2 views; crops: the image, its four corner crops and its centre crop, each 90% of the side and resized back, 6 views; both: each of those 6 and its mirror, 12 views), with the metrics with and without. The whole model runs on each view, also when the head was trained on cached features. Images only. `tlpipe evaluate --tta` and `tlpipe predict --tta` take the same list.',
        minItems: 1,
        uniqueItems: true,
      }),
    ),
    audit: Type.Optional(
      withDefault(
        false,
        Type.Boolean({
          description:
            "true: the run's report includes the data audit of `tlpipe audit` (likely label errors, near-duplicates and train/test leaks, class imbalance and confusion, domain shift between train and test), and writes audit.json.",
        }),
      ),
    ),
  },
  {
    description:
      'How a classification run is evaluated beyond the test metrics: cross-validation, calibration, thresholds, test-time augmentation and the data audit.',
    additionalProperties: false,
    default: {},
  },
);
export type EvaluationAsWritten = Static<typeof evaluationKeys>;

/** `evaluate:` resolved: every default filled in. */
export interface EvaluationSpec {
  folds?: number;
  /** With folds: this run is that one fold (1..folds), not the k-fold run of them all. */
  fold?: number;
  calibrate: 'none' | 'temperature';
  threshold?: { metric: ThresholdMetric; recall?: number; positive?: string };
  abstain?: number;
  tta: TtaTransform[];
  audit: boolean;
}

export function resolveEvaluation(written: EvaluationAsWritten | undefined): EvaluationSpec {
  const w = written ?? {};
  return {
    ...(w.folds !== undefined ? { folds: w.folds } : {}),
    ...(w.fold !== undefined ? { fold: w.fold } : {}),
    calibrate: w.calibrate ?? 'none',
    ...(w.threshold ? { threshold: { ...w.threshold } } : {}),
    ...(w.abstain !== undefined ? { abstain: w.abstain } : {}),
    tta: [...(w.tta ?? [])],
    audit: w.audit ?? false,
  };
}

/** Whether the pipeline asks for anything under `evaluate:` beyond the defaults. */
export const asksForEvaluation = (e: EvaluationSpec): boolean =>
  e.folds !== undefined ||
  e.calibrate !== 'none' ||
  e.threshold !== undefined ||
  e.abstain !== undefined ||
  e.tta.length > 0 ||
  e.audit;

/** The written `evaluate:` keys, each with the path a finding points at. */
const writtenKeys = (e: EvaluationSpec): [keyof EvaluationSpec, boolean][] => [
  ['folds', e.folds !== undefined],
  ['fold', e.fold !== undefined],
  ['calibrate', e.calibrate !== 'none'],
  ['threshold', e.threshold !== undefined],
  ['abstain', e.abstain !== undefined],
  ['tta', e.tta.length > 0],
  ['audit', e.audit],
];

/** Every `evaluate:` key judges class probabilities: the other tasks have their own metrics. */
export const evaluationNeedsClassification: SpecRule = ({ task, evaluate }) =>
  task === 'classification'
    ? []
    : writtenKeys(evaluate)
        .filter(([, written]) => written)
        .map(([key]) => ({
          path: ['evaluate', key],
          key: true,
          message: `\`evaluate.${key}\` is for classification; this pipeline's task is ${task}`,
          hint: 'remove it (segmentation and anomaly detection report their own metrics)',
        }));

/** Calibration and thresholds are fitted on the validation split; fitting them on the test split would grade them on what they learned from. */
export const fittingNeedsValidation: SpecRule = ({ evaluate, dataset }) => {
  const fitted: [keyof EvaluationSpec, boolean][] = [
    ['calibrate', evaluate.calibrate !== 'none'],
    ['threshold', evaluate.threshold !== undefined],
  ];
  return fitted
    .filter(([, asked]) => asked)
    .flatMap(([key]): RuleFinding[] => {
      if (dataset.validation === 'test')
        return [
          {
            path: ['evaluate', key],
            key: true,
            message: `\`evaluate.${key}\` is fitted on the validation split, and this pipeline validates on the test split, so the test metrics would grade what was fitted on them`,
            hint: 'set dataset.validation to a fraction such as 0.1',
          },
        ];
      // k-fold validates each fold on its own held-out part.
      if (dataset.validation === 0 && evaluate.folds === undefined)
        return [
          {
            path: ['evaluate', key],
            key: true,
            locateAt: [['dataset', 'validation']],
            message: `\`evaluate.${key}\` is fitted on the validation split, and this pipeline has none (dataset.validation is 0)`,
            hint: 'set dataset.validation to a fraction such as 0.1',
          },
        ];
      return [];
    });
};

/** A threshold on one class's probability decides between two classes only. */
export const thresholdNeedsTwoClasses: SpecRule = ({ evaluate, dataset }) => {
  const threshold = evaluate.threshold;
  if (!threshold) return [];
  const findings: RuleFinding[] = [];
  const names = dataset.classNames;
  const known = names?.length ?? KNOWN_CLASS_COUNTS[dataset.format];
  if (known !== undefined && known !== 2)
    findings.push({
      path: ['evaluate', 'threshold'],
      key: true,
      message: `a tuned threshold decides between two classes, and this dataset has ${known}`,
      hint: 'remove evaluate.threshold, or use evaluate.abstain to answer "unsure" below a confidence',
    });
  if (threshold.positive !== undefined && names && !names.includes(threshold.positive))
    findings.push({
      path: ['evaluate', 'threshold', 'positive'],
      message: `\`${threshold.positive}\` is not one of the classes (${names.join(', ')})`,
      hint: 'name one of dataset.classNames',
    });
  if (threshold.metric === 'precisionAtRecall' && threshold.recall === undefined)
    findings.push({
      path: ['evaluate', 'threshold', 'metric'],
      message: 'precisionAtRecall needs the recall to keep',
      hint: 'add `recall: 0.9` (or the recall you need) under evaluate.threshold',
    });
  if (threshold.metric !== 'precisionAtRecall' && threshold.recall !== undefined)
    findings.push({
      path: ['evaluate', 'threshold', 'recall'],
      key: true,
      message: `recall is read by metric precisionAtRecall only, and this threshold maximises ${threshold.metric}`,
      hint: 'remove recall, or set metric: precisionAtRecall',
      severity: 'warning',
    });
  return findings;
};

/** k-fold makes each fold's held-out part its validation split; a validation split of its own would be a second one. */
export const foldsReplaceValidation: SpecRule = ({ evaluate, dataset }) =>
  evaluate.folds !== undefined && dataset.validation === 'test'
    ? [
        {
          path: ['evaluate', 'folds'],
          key: true,
          message: 'k-fold validates each fold on its own held-out part, and this pipeline validates on the test split',
          hint: 'remove dataset.validation: test (the folds are made from train+validation; the test split stays untouched)',
        },
      ]
    : [];

/** `fold` names one of the `folds`: without them it names nothing. */
export const foldIsOneOfTheFolds: SpecRule = ({ evaluate }) => {
  const { fold, folds } = evaluate;
  if (fold === undefined) return [];
  if (folds === undefined)
    return [
      {
        path: ['evaluate', 'fold'],
        key: true,
        message:
          '`evaluate.fold` names one fold of a k-fold cross-validation, and this pipeline sets no `evaluate.folds`',
        hint: 'add `folds: 5` (or your k) under evaluate, or remove fold',
      },
    ];
  return fold > folds
    ? [
        {
          path: ['evaluate', 'fold'],
          message: `fold ${fold} is not one of the ${folds} folds (they are numbered 1..${folds})`,
          hint: `set evaluate.fold to a number from 1 to ${folds}`,
        },
      ]
    : [];
};

/** Test-time augmentation flips and crops images; a table's rows have no such transforms. */
export const ttaNeedsImages: SpecRule = ({ evaluate, dataset }) =>
  evaluate.tta.length > 0 && datasetInput(dataset).kind === 'rows'
    ? [
        {
          path: ['evaluate', 'tta'],
          key: true,
          message: `test-time augmentation (${evaluate.tta.join(', ')}) transforms images, and this pipeline's examples are tabular rows`,
          hint: 'remove evaluate.tta',
        },
      ]
    : [];

/** The audit is of the data, which every fold shares: once, not once per fold; and it reads images. */
export const auditFitsThePipeline: SpecRule = ({ evaluate, dataset }) => {
  if (!evaluate.audit) return [];
  if (datasetInput(dataset).kind === 'rows')
    return [
      {
        path: ['evaluate', 'audit'],
        key: true,
        message:
          "the data audit reads images (thumbnails, pixel copies, brightness), and this pipeline's examples are tabular rows",
        hint: 'remove evaluate.audit',
      },
    ];
  if (evaluate.folds !== undefined)
    return [
      {
        path: ['evaluate', 'audit'],
        key: true,
        message: 'the data audit is of the data every fold shares, so a k-fold run would repeat it in each fold',
        hint: 'remove evaluate.audit here and run `tlpipe audit <pipeline>` once',
      },
    ];
  return [];
};

export const EVALUATION_RULES: readonly SpecRule[] = [
  evaluationNeedsClassification,
  fittingNeedsValidation,
  thresholdNeedsTwoClasses,
  foldsReplaceValidation,
  foldIsOneOfTheFolds,
  ttaNeedsImages,
  auditFitsThePipeline,
];
