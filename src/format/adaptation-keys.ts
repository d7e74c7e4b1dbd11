/**
 * The two kinds of transfer the article names beside feature-based,
 * fine-tuning and sequential transfer:
 *
 * - `adapt:` domain adaptation. Unlabelled images of the domain the model
 *   will meet (another camera, scanner or font) align the base to it:
 *   AdaBN re-estimates the frozen base's batch-norm statistics on them;
 *   CORAL and DANN add an alignment loss to stages that train base layers.
 * - `dataset.source:` instance-based transfer. A second labelled dataset
 *   trains beside the pipeline's own, each of its examples weighted; it
 *   never enters the validation or test split.
 *
 * Declared here once: the schema of `adapt:` (`dataset.source` is part of
 * the dataset's schema, in dataset-formats/dataset-schema.ts), the resolved
 * forms and the rules only these keys need.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FileRule, SpecRule, RuleFinding } from './rules.js';
import { Enum, withDefault } from './schema-kit.js';
import { datasetInput } from './dataset-formats/input.js';
import { datasetFormat, FORMAT_NAMES } from './dataset-formats/index.js';
import type { DatasetSpec } from './types.js';

export const ADAPT_METHODS = ['adabn', 'coral', 'dann'] as const;
export type AdaptMethod = (typeof ADAPT_METHODS)[number];
/** The methods that add a loss to training, and so need a stage that trains base layers. */
export const LEARNED_ADAPT_METHODS: readonly AdaptMethod[] = ['coral', 'dann'];

export const adaptKeys = Type.Object(
  {
    images: Type.String({
      description:
        "Unlabelled images of the target domain (what the model will be used on): a folder of images, read in any sub-folders (their names are not labels), or a CSV file with a column of image paths relative to it. Resized and normalised as the pipeline's own images.",
      minLength: 1,
    }),
    imageColumn: Type.Optional(
      withDefault(
        'image',
        Type.String({ description: 'For a CSV of target images: the column holding the paths.', minLength: 1 }),
      ),
    ),
    method: Enum(ADAPT_METHODS, {
      description:
        "adabn: re-estimate every batch-norm layer's moving mean and variance in the base on the target images (Li et al., 2016) before features are extracted; every other weight stays as it was, and the exported model carries the adapted statistics. coral: in stages that train base layers, add `weight` × the CORAL loss (Sun & Saenko, 2016), the distance between the covariances of the base's pooled features on a training batch and on a target batch. dann: in stages that train base layers, a small domain classifier learns to tell training from target features through a gradient-reversal layer (Ganin et al., 2016), so the base learns features it cannot tell apart; `weight` scales the reversed gradient.",
    }),
    weight: Type.Optional(
      withDefault(
        1,
        Type.Number({
          description:
            "coral and dann: the alignment loss weight (for dann, the reversed gradient's final scale, reached by the schedule of Ganin et al.).",
          minimum: 0,
          maximum: 100,
        }),
      ),
    ),
    limit: Type.Optional(
      withDefault(
        2000,
        Type.Integer({
          description: 'At most this many target images are used (a seeded sample when there are more).',
          minimum: 1,
          maximum: 100000,
        }),
      ),
    ),
    onBadFile: Type.Optional(
      Enum(['error', 'skip'], {
        description:
          'What to do with a target file that cannot be decoded. error: stop before training and name it. skip: adapt without it; it is listed in the run log.',
        default: 'error',
      }),
    ),
  },
  {
    description:
      'Domain adaptation: unlabelled images of the domain the model will be used on, and how the model is aligned to them. The run measures the shift (a domain classifier telling training images from target images by their base features, as AUROC) before and after adapting; `tlpipe data` measures it too.',
    additionalProperties: false,
  },
);
export type AdaptAsWritten = Static<typeof adaptKeys>;

/** `adapt:` resolved. */
export interface AdaptSpec {
  /** Absolute: a folder, or a .csv file. */
  images: string;
  imageColumn: string;
  method: AdaptMethod;
  /** The alignment loss weight (coral, dann); recorded for adabn, which reads none. */
  weight: number;
  limit: number;
  onBadFile: 'error' | 'skip';
}

export function resolveAdapt(
  written: AdaptAsWritten | undefined,
  resolvePath: (p: string) => string,
): AdaptSpec | undefined {
  if (!written) return undefined;
  return {
    images: resolvePath(written.images),
    imageColumn: written.imageColumn ?? 'image',
    method: written.method,
    weight: written.weight ?? 1,
    limit: written.limit ?? 2000,
    onBadFile: written.onBadFile ?? 'error',
  };
}

/** `dataset.source` resolved: a second labelled dataset, mixed into training only. */
export interface SourceSpec {
  /** Read by its own format's reader, at the pipeline's image size and channels, with no validation or test split of its own. */
  dataset: DatasetSpec;
  /** Each source example's loss weight (the pipeline's own examples weigh 1). */
  weight: number;
  /** csv sources: a numeric column multiplying `weight` per row. */
  weightColumn?: string;
  /** Per-epoch factor on the source's weight: epoch e (counted from 1 across stages) weighs weight × decay^(e−1). 1: constant. */
  decay: number;
  /** Source class name → the pipeline's class name; a source class neither mapped nor named as one of the pipeline's is left out. */
  labelMap?: Record<string, string>;
}

/** The examples a source could contribute weigh nothing: it is left out whole, as if not written. */
export const sourceWeighsNothing = (source: SourceSpec): boolean => source.weight === 0;

// ——— Rules ———

/** Adaptation and source data are written for classification: the other tasks have their own training loops. */
export const adaptationNeedsClassification: SpecRule = ({ task, adapt, source }) => {
  if (task === 'classification') return [];
  const written: [string[], boolean][] = [
    [['adapt'], adapt !== undefined],
    [['dataset', 'source'], source !== undefined],
  ];
  return written
    .filter(([, w]) => w)
    .map(([path]) => ({
      path,
      key: true,
      message: `\`${path.join('.')}\` is for classification; this pipeline's task is ${task}`,
      hint: 'remove it',
    }));
};

/** Target images are images; a tabular pipeline has none to align with. */
export const adaptNeedsImages: SpecRule = ({ adapt, dataset }) =>
  adapt && datasetInput(dataset).kind === 'rows'
    ? [
        {
          path: ['adapt'],
          key: true,
          message: "domain adaptation aligns a base's image features, and this pipeline's examples are tabular rows",
          hint: 'remove adapt',
        },
      ]
    : [];

/** Without a pretrained base there are no batch-norm statistics or base features to align. */
export const adaptNeedsBase: SpecRule = ({ adapt, base }) =>
  adapt && base.model === 'none'
    ? [
        {
          path: ['adapt'],
          key: true,
          message:
            'domain adaptation aligns a pretrained base to the target images, and this pipeline has `base.model: none`',
          hint: 'name a base model, or remove adapt',
        },
      ]
    : [];

/** CORAL and DANN are losses on the base's features: they teach only a stage in which base layers learn. */
export const learnedAdaptNeedsFineTuning: SpecRule = ({ adapt, train, freeze }) => {
  if (!adapt || !LEARNED_ADAPT_METHODS.includes(adapt.method)) return [];
  const trainsBase =
    !(freeze.length === 1 && freeze[0] === 'all') || train.stages.some((stage) => stage.unfreeze.length > 0);
  return trainsBase
    ? []
    : [
        {
          path: ['adapt', 'method'],
          message: `\`${adapt.method}\` aligns the base's features by training base layers, and every stage of this pipeline keeps the base frozen`,
          hint: 'use `method: adabn` for a frozen base, or add a stage with `unfreeze:` (e.g. strategy: head-then-all)',
        },
      ];
};

/** A source is read as the pipeline's own dataset is, but only for training: its own splits would be ignored. */
export const sourceFitsThePipeline: SpecRule = ({ source, dataset }) => {
  if (!source) return [];
  const findings: RuleFinding[] = [];
  const target = datasetInput(dataset).kind;
  const own = datasetInput(source.dataset).kind;
  if (own !== target)
    findings.push({
      path: ['dataset', 'source', 'format'],
      message: `the source's examples are ${own === 'rows' ? 'tabular rows' : 'images'} and the pipeline's are ${target === 'rows' ? 'tabular rows' : 'images'}`,
      hint: 'a source must hold the same kind of examples as the dataset it joins',
    });
  if (source.dataset.format === 'segmentationFolder')
    findings.push({
      path: ['dataset', 'source', 'format'],
      message: 'a segmentationFolder holds masks, and a source adds labelled examples to classification',
      hint: 'use mnist, idx, imageFolder or csv',
    });
  if (source.weightColumn !== undefined && source.dataset.format !== 'csv')
    findings.push({
      path: ['dataset', 'source', 'weightColumn'],
      key: true,
      message: `weightColumn is a CSV column, and this source's format is ${source.dataset.format}`,
      hint: 'give one `weight` for every source example, or use a csv source',
    });
  return findings;
};

/**
 * k-fold cross-validation folds the pipeline's own examples: a fold's
 * features are rows of one shared pool, which the source would have to
 * join in every fold's training part only. Not built: refused plainly.
 */
export const sourceWithoutFolds: SpecRule = ({ source, evaluate }) =>
  source && !sourceWeighsNothing(source) && evaluate.folds !== undefined
    ? [
        {
          path: ['evaluate', 'folds'],
          key: true,
          message: 'k-fold cross-validation is not available with `dataset.source`',
          hint: 'remove evaluate.folds, or the source (or set its weight: 0)',
        },
      ]
    : [];

export const ADAPTATION_RULES: readonly SpecRule[] = [
  sourceWithoutFolds,
  adaptationNeedsClassification,
  adaptNeedsImages,
  adaptNeedsBase,
  learnedAdaptNeedsFineTuning,
  sourceFitsThePipeline,
];

/** What each format must be told to find its files, in a source as in the dataset. */
const REQUIRED_SOURCE_KEY: Partial<Record<DatasetSpec['format'], { key: string; hint: string }>> = {
  idx: { key: 'train', hint: 'train: { images: source-images-idx3-ubyte.gz, labels: source-labels-idx1-ubyte.gz }' },
  imageFolder: { key: 'dir', hint: 'dir: data/source (one sub-folder per class)' },
  csv: { key: 'file', hint: 'file: data/source.csv' },
};

/**
 * A source names its files and only the keys its format reads; split keys
 * (`testDir`) are refused since a source trains only. Runs on the file as
 * written, before resolution, which needs the required key.
 */
export const sourceKeysFitFormat: FileRule = (file) => {
  const source = file.dataset.source as (Record<string, unknown> & { format: DatasetSpec['format'] }) | undefined;
  if (!source) return [];
  const findings: RuleFinding[] = [];
  const required = REQUIRED_SOURCE_KEY[source.format];
  if (required && source[required.key] === undefined)
    findings.push({
      path: ['dataset', 'source'],
      message: `a source of format \`${source.format}\` needs \`${required.key}\``,
      hint: `e.g. ${required.hint}`,
    });
  const { keys: used, keysHint } = datasetFormat(source.format);
  const all = new Set(FORMAT_NAMES.flatMap((f) => datasetFormat(f).keys));
  for (const key of [...all].filter((k) => k in source))
    if (key === 'testDir' || key === 'test')
      findings.push({
        path: ['dataset', 'source', key],
        key: true,
        message: 'a source only trains: its examples never enter the validation or test split',
        hint: `remove \`${key}\``,
      });
    else if (!used.includes(key))
      findings.push({
        path: ['dataset', 'source', key],
        key: true,
        message: `\`${key}\` is not used by format \`${source.format}\``,
        hint: keysHint,
      });
  return findings;
};

export const ADAPTATION_FILE_RULES: readonly FileRule[] = [sourceKeysFitFormat];
