import { segmentationLimitKeys } from './segmentation-folder.js';
import { Type, type TSchema } from '@sinclair/typebox';
import { describe, Enum, imageSize, withDefault } from '../schema-kit.js';
import type { FormatName } from './dataset-format.js';
import { idxFiles } from './idx.js';
import { DATASET_FORMATS, FORMAT_NAMES } from './index.js';

export { idxFiles };

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** The keys of every format, with their types: what `Static` gives the dataset key as written. */
type FormatProperties = UnionToIntersection<(typeof DATASET_FORMATS)[FormatName]['properties']>;

/**
 * The schema published before formats were modules listed imageFolder's
 * keys, then csv's, then idx's: kept, so pipeline.schema.json does not
 * change. A later format's keys follow, in the registry's order.
 */
const PUBLISHED_KEY_ORDER: readonly FormatName[] = ['imageFolder', 'csv', 'idx'];

function formatProperties(): FormatProperties {
  const order = [...PUBLISHED_KEY_ORDER, ...FORMAT_NAMES.filter((f) => !PUBLISHED_KEY_ORDER.includes(f))];
  return Object.assign(
    {},
    ...order.map((f) => DATASET_FORMATS[f].properties as Record<string, TSchema>),
  ) as FormatProperties;
}

/**
 * `dataset.source`: a second labelled dataset in any format, read at the
 * pipeline's image size and mixed into training only (see
 * format/adaptation-keys.ts). Its examples never enter validation or test,
 * so it takes no split keys of its own.
 */
export const sourceSchema = Type.Object(
  {
    format: Enum(FORMAT_NAMES, { description: "The source's format; the same formats and keys as the dataset's own." }),
    ...formatProperties(),
    classNames: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          "The source's class names in label order (imageFolder: its sub-folders to use). Matched by name to the pipeline's classes; without names on either side, label numbers are matched.",
        minItems: 1,
        uniqueItems: true,
      }),
    ),
    limit: Type.Optional(
      Type.Object(
        {
          perClass: Type.Optional(
            Type.Integer({ description: 'At most this many source examples per class (seeded).', minimum: 1 }),
          ),
        },
        { description: 'A stratified, seeded subsample of the source.', additionalProperties: false, default: {} },
      ),
    ),
    onBadFile: Type.Optional(
      Enum(['error', 'skip'], {
        description: 'imageFolder and csv: what to do with a source file that cannot be decoded.',
        default: 'error',
      }),
    ),
    weight: Type.Optional(
      withDefault(
        1,
        Type.Number({
          description:
            "Each source example's loss weight, as Keras' sample_weight: it multiplies the example's loss in the batch mean; the pipeline's own examples weigh 1. 0 leaves the source out entirely (the run is the run without it).",
          minimum: 0,
          maximum: 100,
        }),
      ),
    ),
    weightColumn: Type.Optional(
      Type.String({
        description: 'csv sources: a numeric column (≥ 0) multiplying `weight` per row; rows weighing 0 are left out.',
        minLength: 1,
      }),
    ),
    decay: Type.Optional(
      withDefault(
        1,
        Type.Number({
          description:
            "Per-epoch factor on the source's weight: epoch e (counted from 1 across all stages) weighs weight × decay^(e−1), so the source teaches early and the pipeline's own data takes over. 1: constant.",
          exclusiveMinimum: 0,
          maximum: 1,
        }),
      ),
    ),
    labelMap: Type.Optional(
      Type.Record(
        Type.String({ minLength: 1 }),
        Type.String({ minLength: 1, description: "The pipeline's class name this source class becomes." }),
        {
          description:
            "Source class name → the pipeline's class name, for classes named differently. A source class neither mapped nor named as one of the pipeline's classes is left out (the plan says which).",
        },
      ),
    ),
  },
  {
    description:
      'Instance-based transfer: a second labelled dataset (any format) whose examples join the training split with their own loss weight. They never enter the validation or test split.',
    additionalProperties: false,
  },
);

/** The `dataset` key: its format, each format's own keys, and the keys every format shares. */
export const datasetSchema = Type.Object(
  {
    format: Enum(FORMAT_NAMES, {
      description: FORMAT_NAMES.map((f) => DATASET_FORMATS[f].summary).join(' '),
    }),
    ...formatProperties(),
    // One key, two meanings by format (a rule checks which one applies): a branch each, so a complaint's hint is its branch's.
    test: Type.Optional(
      Type.Union(
        [
          describe(idxFiles, 'idx: the test IDX files `{ images, labels }`.'),
          Type.Number({
            description:
              'imageFolder and csv: the fraction of each class held out as the test split (stratified, seeded), in (0, 0.9], e.g. 0.15. To have no test split, leave the key out.',
            exclusiveMinimum: 0,
            maximum: 0.9,
          }),
        ],
        {
          description:
            'idx: the test IDX files `{ images, labels }`. imageFolder and csv: the fraction of each class held out as the test split (stratified, seeded), e.g. 0.15. Without a test split the run has no test evaluation.',
        },
      ),
    ),
    classNames: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'Display names of the classes, in label order (label 0 first); default: the label numbers. For imageFolder: the class sub-folders to use, in this order; default: every sub-folder, sorted.',
        minItems: 2,
        uniqueItems: true,
      }),
    ),
    limit: Type.Optional(
      Type.Object(
        {
          perClass: Type.Optional(
            Type.Integer({
              description: 'At most this many training examples per class (before the validation split).',
              minimum: 1,
            }),
          ),
          testPerClass: Type.Optional(
            Type.Integer({ description: 'At most this many test examples per class.', minimum: 1 }),
          ),
          ...segmentationLimitKeys,
        },
        {
          description:
            'A stratified, seeded subsample: at most this many examples of each class (segmentationFolder: at most this many images, since a mask holds many classes).',
          additionalProperties: false,
          default: {},
        },
      ),
    ),
    validation: Type.Optional(
      withDefault(
        0.1,
        Type.Union(
          [
            Type.Number({
              description:
                'Fraction of the training examples held out for validation, stratified by class and seeded. 0 disables validation.',
              minimum: 0,
              maximum: 0.9,
            }),
            Type.Literal('test', {
              description:
                "Validate on the test split every epoch, as Keras' `validation_data=(x_test, y_test)`: every training example trains, and val_* are test metrics. Monitoring them (early stopping, the best checkpoint) then chooses by the test set.",
            }),
          ],
          {
            description:
              'Fraction of the training examples held out for validation (stratified, seeded; 0 disables validation), or `test` to validate on the test split every epoch.',
          },
        ),
      ),
    ),
    image: Type.Optional(
      Type.Object(
        {
          size: Type.Optional(
            imageSize('[height, width] in pixels fed to the base. Default: base.inputSize, else [96, 96].'),
          ),
          channels: Type.Optional(
            Enum([1, 3], {
              description:
                "Channels fed to the model. 3 (RGB, what every pretrained zoo base takes): grayscale sources are repeated to 3 channels. 1 (gray): for `base: { model: none }` or a base trained on 1-channel images, such as Keras' `Reshape((28, 28, 1))` on MNIST; colour sources are turned gray (0.2989 R + 0.587 G + 0.114 B, as tf.image.rgb_to_grayscale), and `normalize` uses the mean of its three means and stds.",
              default: 3,
            }),
          ),
          fit: Type.Optional(
            Enum(['fill', 'cover', 'contain'], {
              description:
                'imageFolder and csv: how an image is resized to `size`. fill: stretch to the exact size. cover (default): scale to cover, crop the centre. contain: scale to fit, pad with black. IDX images are always stretched (bilinear).',
            }),
          ),
        },
        {
          description: 'The size and channels images are resized to before they reach the base model.',
          additionalProperties: false,
          default: {},
        },
      ),
    ),
    onBadFile: Type.Optional(
      Enum(['error', 'skip'], {
        description:
          'imageFolder, csv and segmentationFolder: what to do with a file that cannot be decoded (corrupt, truncated, empty; for segmentationFolder, an image or its mask). error: stop before training and name the files. skip: train without them; they are listed in summary.json and log.txt.',
        default: 'error',
      }),
    ),
    source: Type.Optional(sourceSchema),
    augment: Type.Optional(
      Type.Object(
        {
          flipHorizontal: Type.Optional(
            Type.Boolean({ description: 'Mirror half of the images left to right.', default: false }),
          ),
          rotate: Type.Optional(
            Type.Number({
              description: 'Rotate by up to this many degrees either way.',
              minimum: 0,
              maximum: 180,
              default: 0,
            }),
          ),
          zoom: Type.Optional(
            Type.Number({
              description: 'Zoom in or out by up to this fraction (0.1: scale 0.9–1.1).',
              minimum: 0,
              maximum: 0.9,
              default: 0,
            }),
          ),
          translate: Type.Optional(
            Type.Number({
              description: 'Shift by up to this fraction of the width and height.',
              minimum: 0,
              maximum: 0.5,
              default: 0,
            }),
          ),
          brightness: Type.Optional(
            Type.Number({
              description: 'Add up to this fraction of full brightness, either way.',
              minimum: 0,
              maximum: 1,
              default: 0,
            }),
          ),
          contrast: Type.Optional(
            Type.Number({
              description: "Scale contrast around each image's mean by a factor in 1 ± this.",
              minimum: 0,
              maximum: 1,
              default: 0,
            }),
          ),
        },
        {
          description:
            "Random changes to training images, drawn from the pipeline's seed; validation and test images are never augmented. With augmentation on, the base runs on every batch (its features cannot be computed once).",
          additionalProperties: false,
        },
      ),
    ),
  },
  { description: 'Where the images and labels come from, and how they are split.', additionalProperties: false },
);
