import { Type, type Static } from '@sinclair/typebox';
import type { FileRule, RuleFinding, SpecRule } from '../rules.js';
import type { TaskFormat } from './task-format.js';

/**
 * `anomaly:` — which classes are normal and how the memory bank is made.
 * Feature-based transfer with no labels of anomalies: the frozen base's
 * intermediate features of the normal training images, as local patches,
 * form a memory bank; an image scores as its patch farthest from the bank.
 */
export const anomalyKeys = Type.Object(
  {
    normal: Type.Array(Type.String({ minLength: 1 }), {
      description:
        'The classes (folder names, or `classNames`) that are normal. Training and validation use only their images; the test split holds every class, scored normal vs not.',
      minItems: 1,
      uniqueItems: true,
    }),
    layers: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          "Base layers whose outputs are the patch features, concatenated per position on the grid of the largest. Default for the zoo's mobilenet_v2: block_6_expand_relu and block_13_expand_relu (mid-level: local enough to place a defect, deep enough to be robust); other bases must name theirs.",
        minItems: 1,
        uniqueItems: true,
      }),
    ),
    coreset: Type.Optional(
      Type.Number({
        description:
          'Fraction of the normal patches kept in the memory bank, chosen by seeded greedy k-center (PatchCore): smaller is faster and smaller on disk, larger covers rarer normal patches. Default: 0.1.',
        exclusiveMinimum: 0,
        maximum: 1,
        default: 0.1,
      }),
    ),
    quantile: Type.Optional(
      Type.Number({
        description:
          'The threshold is this quantile of the normal validation images’ scores (so the pipeline needs a validation split): an image scoring above it is anomalous. Default: 0.99.',
        minimum: 0.5,
        maximum: 1,
        default: 0.99,
      }),
    ),
  },
  {
    description:
      'task: anomaly — which classes are normal and how the memory bank of normal patch features is made. Required with task: anomaly.',
    additionalProperties: false,
  },
);
export type AnomalyAsWritten = Static<typeof anomalyKeys>;

/** `task: anomaly` as resolved. */
export interface AnomalySpec {
  normal: string[];
  /** The layers as written; empty: the base's default (plan/tasks fills it from the zoo). */
  layers: string[];
  coreset: number;
  quantile: number;
}

/** The defaults filled in, layers left to the planner (it knows the base). */
export function resolveAnomaly(written: AnomalyAsWritten): AnomalySpec {
  return {
    normal: written.normal,
    layers: written.layers ?? [],
    coreset: written.coreset ?? 0.1,
    quantile: written.quantile ?? 0.99,
  };
}

/** The memory bank is filled in one pass: a head, stages or a strategy would never be used. */
const noTraining: FileRule = (file) => {
  const findings: RuleFinding[] = [];
  for (const key of ['head', 'train', 'strategy', 'freeze', 'baseline'] as const) {
    if (file[key] === undefined) continue;
    findings.push({
      path: [key],
      key: true,
      message: `\`task: anomaly\` trains nothing: the memory bank is filled in one pass over the normal images, so \`${key}\` is not used`,
      hint: `remove \`${key}\`; the base stays frozen and \`anomaly:\` says how the bank is made`,
    });
  }
  return findings;
};

/** What an anomaly model folder holds is fixed: a written export or augmentation key would be silently unused. */
const nothingElseExported: FileRule = (file) => {
  const unused: { path: (string | number)[]; what: string }[] = [
    ...(file.export?.quantize !== undefined && file.export.quantize !== 'none'
      ? [{ path: ['export', 'quantize'], what: 'quantized copy (the memory bank is float32 beside the base)' }]
      : []),
    ...(file.export?.demoPage === true
      ? [{ path: ['export', 'demoPage'], what: 'demo page (a demo page classifies; an anomaly model scores)' }]
      : []),
    ...(file.dataset.augment !== undefined
      ? [{ path: ['dataset', 'augment'], what: 'augmentation (the bank holds the normal images as they are)' }]
      : []),
  ];
  return unused.map(({ path, what }) => ({
    path,
    key: true,
    message: `\`task: anomaly\` has no ${what}`,
    hint: `remove \`${path.join('.')}\``,
  }));
};

/** The threshold is chosen on validation scores: taken from the test split, the test's F1 would be measured on what chose it. */
const thresholdNotFromTest: SpecRule = ({ dataset }) =>
  dataset.validation === 'test'
    ? [
        {
          path: ['dataset', 'validation'],
          message:
            '`task: anomaly` takes its threshold from the validation images, so `validation: test` would tune it on the test split',
          hint: 'hold out a fraction of the training images instead, e.g. `validation: 0.2`',
        },
      ]
    : [];

const anomalyIsWritten: FileRule = (file) =>
  file.anomaly === undefined
    ? [
        {
          path: ['task'],
          message: '`task: anomaly` needs `anomaly: { normal: [...] }` — which classes are normal',
          hint: 'e.g. anomaly: { normal: [good] } for a folder data/good, data/cracked, data/scratched',
        },
      ]
    : [];

/** A table has no patches: the memory bank holds local image features. */
const imagesOnly: SpecRule = ({ dataset }) =>
  'featureColumns' in dataset && dataset.featureColumns
    ? [
        {
          path: ['dataset', 'featureColumns'],
          message: '`task: anomaly` scores images by their local patch features; table rows have none',
          hint: 'use an image dataset (imageFolder, idx, mnist, or a csv with imageColumn)',
        },
      ]
    : [];

/** Anomaly detection on pretrained features: a memory bank of normal patches, no labels of anomalies. */
export const anomalyFormat: TaskFormat = {
  description:
    'anomaly: a score per image (and a heat map) of how unlike the normal classes it is, from a memory bank of the pretrained base’s patch features; scored by AUROC, average precision and F1 at a threshold',
  ownKeys: ['anomaly'],
  resolveOwnKeys: (file) => (file.anomaly ? { anomaly: resolveAnomaly(file.anomaly) } : {}),
  fileRules: [anomalyIsWritten, noTraining, nothingElseExported],
  rules: [imagesOnly, thresholdNotFromTest],
  // Nothing trains, so there are no validation metrics per epoch; accuracy is at the threshold.
  monitors: [],
  sweepMetrics: ['test_auroc', 'test_accuracy'],
};
