/**
 * The pipeline file format, declared once. From this declaration come the
 * as-written TypeScript types (`Static`), the defaults that resolution fills
 * in (the `default` keywords), and schemas/pipeline.schema.json, which
 * editors read (`npm run schema` writes it; a test fails when it differs).
 *
 * Descriptions are what editors show. A default that holds whatever else the
 * file says is a `default` keyword (`withDefault` also appends it to the
 * description); one that depends on another key (the cut on the base model,
 * a stage's batch size on `train.batchSize`) is said in the description and
 * filled in by resolve-pipeline.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { datasetSchema as dataset, idxFiles } from './dataset-formats/dataset-schema.js';
import { headLayerSchema, type HeadLayerAsWritten } from './head-layers/registry.js';
import { unetName, unetObject, type UnetAsWritten } from './head-layers/unet.js';
import { describe, Enum, imageSize, withDefault } from './schema-kit.js';
import { anomalyKeys } from './tasks/anomaly.js';
import { evaluationKeys } from './evaluation-keys.js';
import { adaptKeys } from './adaptation-keys.js';
import { DEFAULT_TASK, TASK_FORMATS, TASK_NAMES } from './tasks/registry.js';

const MONITORS = ['val_loss', 'val_accuracy', 'loss', 'accuracy', 'val_meanIoU'] as const;
const MONITOR_DESCRIPTION =
  'The metric watched: val_loss, val_accuracy (both need a validation split), loss or accuracy (of the training epoch); for task: segmentation also val_meanIoU (accuracy is pixel accuracy there).';
const MODE = Enum(['auto', 'min', 'max'], {
  description: 'min: lower is better; max: higher is better; auto: max for accuracies, min for losses.',
  default: 'auto',
});

const freezeRule = Type.Union(
  [
    Type.String({ minLength: 1 }),
    Type.Object(
      { from: Type.String({ description: 'This layer and every base layer above it.', minLength: 1 }) },
      { additionalProperties: false },
    ),
  ],
  {
    description:
      'A rule selecting base layers: all, none, a layer name, a glob (block_1[3-6]_*), a /regular expression/, an index range ([0, 100), [-20, end) — negatives count from the top), or { from: <layer> } for that layer and every layer above it.',
  },
);

const freezeRules = (description?: string) =>
  Type.Array(freezeRule, {
    description: description ? `${description} Rules applied in order.` : 'Rules applied in order.',
    minItems: 1,
  });

const headLayer = headLayerSchema;

/** The head's layers in order, or a ready decoder that resolution expands into them. */
const head = Type.Unsafe<HeadLayerAsWritten[] | UnetAsWritten>({
  anyOf: [
    Type.Array(headLayer, {
      description:
        'The new layers put on top of the cut base, in order. The last one must be a dense layer with `units: classes`.',
      minItems: 1,
    }),
    unetName,
    unetObject,
  ],
  description:
    'The new layers put on top of the cut base, in order; or `unet`, a ready segmentation decoder that tlpipe expands into such layers.',
});

const optimizer = Type.Object(
  {
    name: Type.Optional(
      Enum(['adam', 'adamw', 'sgd', 'rmsprop'], {
        description:
          'adam, adamw (adam with decoupled weight decay, 0.01 unless `weightDecay` says otherwise), sgd (with `momentum` and `nesterov`) or rmsprop.',
        default: 'adam',
      }),
    ),
    learningRate: Type.Optional(
      withDefault(
        0.001,
        Type.Union(
          [
            Type.Number({ exclusiveMinimum: 0, maximum: 10 }),
            Type.Object(
              {
                head: Type.Number({
                  description: "Step size of the head's weights.",
                  exclusiveMinimum: 0,
                  maximum: 10,
                }),
                base: Type.Number({
                  description: "Step size of the unfrozen base layers' weights, typically 10–100× lower.",
                  exclusiveMinimum: 0,
                  maximum: 10,
                }),
              },
              { additionalProperties: false },
            ),
          ],
          {
            description:
              "Peak step size, before any schedule. A number for every trainable weight, or `{head, base}` for discriminative fine-tuning: the head and the unfrozen base layers each get their own optimizer (fastai's lr_mult).",
          },
        ),
      ),
    ),
    momentum: Type.Optional(
      withDefault(0, Type.Number({ description: 'Momentum for sgd and rmsprop.', minimum: 0, exclusiveMaximum: 1 })),
    ),
    multipliers: Type.Optional(
      withDefault(
        [],
        Type.Array(
          Type.Object(
            {
              layers: describe(
                freezeRule,
                'Base layers this multiplier applies to, as a freeze rule (glob or {from: layer}).',
              ),
              multiplier: Type.Number({
                description: 'Factor on the base learning rate for these layers.',
                exclusiveMinimum: 0,
                maximum: 1000,
              }),
            },
            { additionalProperties: false },
          ),
          {
            description:
              'Per-rule learning-rate multipliers for unfrozen base layers, relative to the base learning rate, e.g. [{layers: "block_1[0-4]_*", multiplier: 0.1}]. The first rule that matches a layer applies; each distinct rate is its own optimizer.',
          },
        ),
      ),
    ),
    nesterov: Type.Optional(
      withDefault(false, Type.Boolean({ description: 'Nesterov momentum for sgd (needs `momentum` > 0).' })),
    ),
    weightDecay: Type.Optional(
      Type.Number({
        description:
          "Decoupled weight decay (as AdamW and PyTorch's AdamW): each step multiplies every kernel by (1 − lr × weightDecay); biases and batch-norm parameters are not decayed. Default: 0.01 for adamw, 0 otherwise.",
        minimum: 0,
        maximum: 1,
      }),
    ),
  },
  {
    description:
      "The optimizer for this stage; a fresh one per stage, so fine-tuning does not inherit the head stage's moment estimates.",
    additionalProperties: false,
    default: {},
  },
);

const schedule = Type.Object(
  {
    type: Enum(['constant', 'step', 'exponential', 'cosine', 'oneCycle'], {
      description:
        'constant; step (× factor every `everyEpochs`); exponential (× factor per epoch, smoothly); cosine (linear warmup over `warmupEpochs`, then cosine decay to `minLearningRate`); oneCycle (fastai/PyTorch OneCycleLR: cosine up from lr/divFactor for `warmupFraction` of the stage, then down to lr/(divFactor×finalDivFactor)).',
    }),
    everyEpochs: Type.Optional(
      Type.Integer({ description: 'step: epochs between drops. Required for step.', minimum: 1, maximum: 10000 }),
    ),
    factor: Type.Optional(
      Type.Number({
        description: 'step: multiplier at each drop (default 0.1). exponential: multiplier per epoch (default 0.9).',
        exclusiveMinimum: 0,
        maximum: 1,
      }),
    ),
    warmupEpochs: Type.Optional(
      Type.Number({
        description: 'cosine: epochs of linear warmup from 0 to the learning rate. Default: 0.',
        minimum: 0,
        maximum: 10000,
      }),
    ),
    minLearningRate: Type.Optional(
      Type.Number({
        description: 'cosine: the rate reached at the end of the stage. Default: 0.',
        minimum: 0,
        maximum: 10,
      }),
    ),
    warmupFraction: Type.Optional(
      Type.Number({
        description: 'oneCycle: fraction of the stage spent rising. Default: 0.3.',
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
      }),
    ),
    divFactor: Type.Optional(
      Type.Number({
        description: 'oneCycle: the start rate is lr / divFactor. Default: 25.',
        minimum: 1,
        maximum: 1000000,
      }),
    ),
    finalDivFactor: Type.Optional(
      Type.Number({
        description: 'oneCycle: the end rate is lr / (divFactor × finalDivFactor). Default: 10000.',
        minimum: 1,
        maximum: 1000000000,
      }),
    ),
  },
  {
    description:
      "How the learning rate changes within the stage, evaluated every step from the epoch position t (0 at the stage's first step). The settings a type does not name take the defaults given with each.",
    additionalProperties: false,
    default: { type: 'constant' },
  },
);

const earlyStopping = Type.Object(
  {
    monitor: Type.Optional(Enum(MONITORS, { description: MONITOR_DESCRIPTION, default: 'val_loss' })),
    mode: Type.Optional(MODE),
    patience: Type.Optional(
      withDefault(
        3,
        Type.Integer({ description: 'Epochs without improvement before stopping.', minimum: 0, maximum: 10000 }),
      ),
    ),
    minDelta: Type.Optional(
      withDefault(0, Type.Number({ description: 'The smallest change that counts as an improvement.', minimum: 0 })),
    ),
    restoreBest: Type.Optional(
      withDefault(
        true,
        Type.Boolean({
          description: 'At the end of the stage, put back the weights of its best epoch (when that was not the last).',
        }),
      ),
    ),
  },
  {
    description:
      'Ends the stage when the monitored metric has not improved for `patience` epochs; the next stage then starts.',
    additionalProperties: false,
  },
);

const reduceLROnPlateau = Type.Object(
  {
    monitor: Type.Optional(Enum(MONITORS, { description: MONITOR_DESCRIPTION, default: 'val_loss' })),
    mode: Type.Optional(MODE),
    factor: Type.Optional(
      withDefault(
        0.1,
        Type.Number({ description: 'Multiplier applied at each reduction.', exclusiveMinimum: 0, exclusiveMaximum: 1 }),
      ),
    ),
    patience: Type.Optional(
      withDefault(
        2,
        Type.Integer({ description: 'Epochs without improvement before reducing.', minimum: 0, maximum: 10000 }),
      ),
    ),
    minDelta: Type.Optional(
      withDefault(
        0.0001,
        Type.Number({ description: 'The smallest change that counts as an improvement.', minimum: 0 }),
      ),
    ),
    cooldown: Type.Optional(
      withDefault(
        0,
        Type.Integer({
          description: 'Epochs to wait after a reduction before counting again.',
          minimum: 0,
          maximum: 10000,
        }),
      ),
    ),
    minLearningRate: Type.Optional(
      withDefault(0, Type.Number({ description: 'The rate is never reduced below this.', minimum: 0, maximum: 10 })),
    ),
  },
  {
    description:
      "Multiplies the learning rate by `factor` when the monitored metric has not improved for `patience` epochs (Keras' ReduceLROnPlateau), on top of any schedule.",
    additionalProperties: false,
  },
);

const stage = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        description: "The stage's name, used in metrics, checkpoints and progress. Default: stage-<n>.",
        pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$',
      }),
    ),
    epochs: Type.Integer({ description: 'Passes over the training data in this stage.', minimum: 1, maximum: 10000 }),
    batchSize: Type.Optional(
      Type.Integer({
        description: 'Examples per step in this stage. Default: train.batchSize.',
        minimum: 1,
        maximum: 4096,
      }),
    ),
    optimizer: Type.Optional(optimizer),
    unfreeze: Type.Optional(
      freezeRules(
        'Base layers that start learning in this stage (and stay so in later stages unless frozen again), e.g. ["block_16_*", "Conv_1*"]. Applied before this stage\'s `freeze`.',
      ),
    ),
    freeze: Type.Optional(freezeRules('Base layers frozen again from this stage on. Applied after `unfreeze`.')),
    batchNorm: Type.Optional(
      Enum(['frozen', 'train'], {
        description:
          'frozen: batch normalization layers of the base run in inference mode and keep their moving statistics, even when unfrozen (the usual advice for fine-tuning). train: unfrozen ones use batch statistics and update their moving averages.',
        default: 'frozen',
      }),
    ),
    schedule: Type.Optional(schedule),
    earlyStopping: Type.Optional(earlyStopping),
    reduceLROnPlateau: Type.Optional(reduceLROnPlateau),
    classWeights: Type.Optional(
      Enum(['none', 'balanced'], {
        description: 'Per-stage override of train.classWeights: none or balanced. Default: train.classWeights.',
      }),
    ),
    labelSmoothing: Type.Optional(
      withDefault(
        0,
        Type.Number({
          description:
            'Training targets become (1 − ε)·one-hot + ε/classes. Validation and test losses are plain cross-entropy, so they compare across stages.',
          minimum: 0,
          exclusiveMaximum: 1,
        }),
      ),
    ),
  },
  { description: 'One training stage.', additionalProperties: false },
);

const base = Type.Object(
  {
    model: Type.Optional(
      withDefault(
        'mobilenet_v2',
        Type.String({
          description:
            "The pretrained base, or none to train the head (e.g. a small CNN of conv2d and maxPooling2d layers) from scratch on the images: a zoo name — mobilenet_v2 or inception_v3 (offline, from the npm package nsfwjs), mobilenet_v1_0.25_224 or mobilenet_v1_1.0_224 (downloaded once into $TLPIPE_CACHE or ~/.cache/tlpipe) — an https:// address of a model.json (downloaded once the same way), or the path of a tfjs LayersModel's model.json (weights beside it), relative to the pipeline file, such as another run's model/model.json — or run:<pipeline> (its latest completed run's exported model) or run:<pipeline>/<NNNN>.",
        }),
      ),
    ),
    cut: Type.Optional(
      Type.String({
        description:
          'The last base layer kept; every layer above it is dropped. Default for zoo models: their feature layer (out_relu for mobilenet_v2, mixed10 for inception_v3); required for a model.json base.',
        minLength: 1,
      }),
    ),
    inputSize: Type.Optional(
      imageSize(
        '[height, width] the base takes, where the architecture allows any size (convolutional bases). The same as dataset.image.size, which it sets; give one of the two.',
      ),
    ),
    sha256: Type.Optional(
      Type.String({
        description:
          'For a downloaded base: the sha256 (hex) the download must have — over model.json and its weight files in manifest order. A mismatch stops the run and caches nothing. The sha256 of every download is recorded in run.json either way.',
        pattern: '^[0-9a-f]{64}$',
      }),
    ),
    normalize: Type.Optional(
      Type.Union(
        [
          Enum(['unit', 'symmetric']),
          Type.Object(
            {
              mean: Type.Union([Type.Number(), Type.Array(Type.Number(), { minItems: 3, maxItems: 3 })], {
                description: 'Per-channel mean on the [0, 1] scale, e.g. [0.485, 0.456, 0.406] for ImageNet.',
              }),
              std: Type.Union(
                [
                  Type.Number({ exclusiveMinimum: 0 }),
                  Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 3, maxItems: 3 }),
                ],
                {
                  description:
                    'Per-channel standard deviation on the [0, 1] scale, e.g. [0.229, 0.224, 0.225] for ImageNet.',
                },
              ),
            },
            { additionalProperties: false },
          ),
        ],
        {
          description:
            'How pixels (0–255) are scaled for the base. Default: what the zoo entry was trained with (unit for the nsfwjs models). unit: [0, 1]. symmetric: [-1, 1] (Keras-converted MobileNets). { mean, std }: (pixel / 255 − mean) / std, per channel (RGB) or one number for all.',
        },
      ),
    ),
    allowHttp: Type.Optional(
      withDefault(
        false,
        Type.Boolean({
          description:
            'Allow downloading this base over plain http:// (for a server you trust, such as one on localhost). Without it, only https:// addresses are fetched.',
        }),
      ),
    ),
  },
  { description: 'The pretrained base model and where it is cut.', additionalProperties: false, default: {} },
);

const checkpoints = Type.Object(
  {
    every: Type.Optional(
      withDefault(
        1,
        Type.Integer({
          description: "Save a checkpoint every this many epochs (and always at a stage's last epoch).",
          minimum: 1,
          maximum: 10000,
        }),
      ),
    ),
    keepLast: Type.Optional(
      withDefault(
        3,
        Type.Integer({
          description:
            'How many of the newest checkpoints are kept; older ones are deleted (never the best, nor one early stopping will restore).',
          minimum: 1,
          maximum: 10000,
        }),
      ),
    ),
    best: Type.Optional(
      withDefault(
        true,
        Type.Boolean({ description: 'Also keep the checkpoint with the best monitored value over the whole run.' }),
      ),
    ),
    monitor: Type.Optional(
      Enum(MONITORS, {
        description: `${MONITOR_DESCRIPTION} Default: val_loss, or loss when there is no validation split.`,
      }),
    ),
    mode: Type.Optional(MODE),
  },
  {
    description:
      'Which epoch checkpoints are kept. Each holds the weights and everything resume needs (optimizer state, stage, epoch, schedule and callback state, random streams).',
    additionalProperties: false,
    default: {},
  },
);

const train = Type.Object(
  {
    batchSize: Type.Optional(
      withDefault(32, Type.Integer({ description: 'Examples per gradient step.', minimum: 1, maximum: 4096 })),
    ),
    stages: Type.Optional(
      Type.Array(stage, {
        description:
          'Training stages, run in order; epochs are numbered continuously across stages. Required unless `strategy` fills them.',
        minItems: 1,
      }),
    ),
    classWeights: Type.Optional(
      Enum(['none', 'balanced'], {
        description:
          "Weigh each example's loss by its class. none: all equal. balanced: n / (classes × n_class), so rare classes count as much as common ones (scikit-learn's and Keras' convention).",
        default: 'none',
      }),
    ),
    checkpoints: Type.Optional(checkpoints),
  },
  {
    description: 'How the model is trained. Optional with `strategy`, which fills the stages.',
    additionalProperties: false,
    default: {},
  },
);

const sweepParameter = Type.Object(
  {
    values: Type.Optional(
      Type.Array(Type.Unknown(), {
        description:
          'The values to try, in order (grid: each; random: one drawn per trial). Any YAML value the key takes: numbers, names, lists, mappings.',
        minItems: 1,
        maxItems: 1000,
      }),
    ),
    min: Type.Optional(Type.Number({ description: 'random: the smallest value drawn (with max).' })),
    max: Type.Optional(Type.Number({ description: 'random: the largest value drawn (with min).' })),
    distribution: Type.Optional(
      Enum(['uniform', 'logUniform', 'int'], {
        description:
          'random: how a value between min and max is drawn. uniform; logUniform: uniform in log space (learning rates; min > 0); int: a uniform integer, both ends included.',
        default: 'uniform',
      }),
    ),
  },
  { description: 'Either `values` (grid or random) or `min` and `max` (random only).', additionalProperties: false },
);

const sweep = Type.Object(
  {
    method: Type.Optional(
      Enum(['grid', 'random'], {
        description:
          "grid: every combination of the parameters' values, in order (the last parameter varies fastest). random: `runCap` trials, each value drawn with `seed`.",
        default: 'grid',
      }),
    ),
    metric: Type.Optional(
      Type.Object(
        {
          name: Type.Optional(
            Enum(
              ['val_accuracy', 'val_loss', 'test_accuracy', 'test_loss', 'test_auroc', 'val_meanIoU', 'test_meanIoU'],
              {
                description:
                  'val_*: the validation metric of the epoch whose weights the trial ends with (the restored epoch when early stopping restores one, else the last); test_*: on the test split after training (test_auroc: task: anomaly, whose test_accuracy is at its threshold; val_meanIoU and test_meanIoU: task: segmentation, the default val_meanIoU).',
                default: 'val_accuracy',
              },
            ),
          ),
          goal: Type.Optional(
            Enum(['maximize', 'minimize'], { description: 'Default: minimize for losses, maximize for the others.' }),
          ),
        },
        {
          description:
            'How trials are ranked: the sweep names the best trial by it, and early termination compares trials by it.',
          additionalProperties: false,
          default: {},
        },
      ),
    ),
    runCap: Type.Optional(
      Type.Integer({
        description:
          'random: how many trials (required). grid: an upper bound; a grid larger than it is an error rather than silently cut.',
        minimum: 1,
        maximum: 1000,
      }),
    ),
    seed: Type.Optional(
      Type.Integer({
        description: "random: the seed values are drawn with. Default: the pipeline's seed.",
        minimum: 0,
        maximum: 4294967295,
      }),
    ),
    parameters: Type.Record(Type.String(), sweepParameter, {
      description:
        'Key paths into this pipeline (`base.cut`, `train.stages[0].optimizer.learningRate`, `head[1].dense.units`), each set in every trial as `tlpipe run --set` would.',
      minProperties: 1,
      maxProperties: 32,
    }),
    earlyTerminate: Type.Optional(
      Type.Object(
        {
          type: Enum(['asha'], {
            description:
              'asha: asynchronous successive halving. At rung epochs minEpochs · reductionFactor^k, a trial whose metric is outside the best 1/reductionFactor of the trials that reached that rung before it stops (recorded as stopped, with the reason).',
          }),
          minEpochs: Type.Optional(
            withDefault(
              1,
              Type.Integer({
                description: 'The first rung: the epoch (counted over all stages) at which trials are first compared.',
                minimum: 1,
              }),
            ),
          ),
          reductionFactor: Type.Optional(
            withDefault(
              3,
              Type.Integer({
                description: 'Rungs are this factor apart, and about 1 in this many trials goes on past each.',
                minimum: 2,
                maximum: 100,
              }),
            ),
          ),
        },
        {
          description:
            'Stop trials that fall behind early. Compares the validation metric per epoch, so the metric is val_accuracy or val_loss.',
          additionalProperties: false,
        },
      ),
    ),
  },
  {
    description:
      'A search over this pipeline, run by `tlpipe sweep`: each trial is an ordinary run of the pipeline with the parameters set. `tlpipe run` runs the pipeline as written and leaves this out.',
    additionalProperties: false,
  },
);

export const PipelineFileSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Optional pointer to this schema, for editors.' })),
    name: Type.Optional(
      Type.String({
        description: "The pipeline's name; runs go to runs/<name>/. Default: the file name without its extension.",
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
      }),
    ),
    seed: Type.Optional(
      withDefault(
        42,
        Type.Integer({
          description:
            "Seed for every random choice tlpipe makes: subsampling, the validation split, shuffling, the head's initial weights and dropout masks. The same seed on the same backend gives the same run.",
          minimum: 0,
          maximum: 4294967295,
        }),
      ),
    ),
    backend: Type.Optional(
      Enum(['auto', 'tensorflow', 'wasm', 'cpu'], {
        description:
          'TensorFlow.js backend. auto tries tensorflow (tfjs-node), then wasm, then cpu; the run records which one ran.',
        default: 'auto',
      }),
    ),
    task: Type.Optional(
      Enum(TASK_NAMES, {
        description: `What the model learns to do. ${Object.values(TASK_FORMATS)
          .map((task) => task.description)
          .join('; ')}.`,
        default: DEFAULT_TASK,
      }),
    ),
    dataset,
    base: Type.Optional(base),
    freeze: Type.Optional(
      Type.Union([Enum(['all', 'none']), freezeRules()], {
        description:
          'Which base layers keep their pretrained weights at the start. all: the whole base is frozen and only the head learns. none: everything learns. Or a list of rules naming the layers to freeze (the rest learn). Stages change it with `unfreeze` and `freeze`. Default: all (or what `strategy` fills).',
      }),
    ),
    head: Type.Optional(head),
    strategy: Type.Optional(
      Enum(['head-only', 'head-then-all', 'low-level', 'all', 'auto'], {
        description:
          "Which classic transfer scenario to run; it fills base.cut, freeze and train.stages where the file does not write them (written keys win), and `tlpipe plan` prints what it filled. head-only (small data, similar to the base's): a new head on the frozen base. head-then-all (large, similar): the head, then every layer at a 100× lower rate. low-level (small, different): cut at a mid-level layer and train a head there. all (large, different): every layer trains from the first epoch. auto: measure data size per class and a linear probe of the base's features at a few cuts, and choose.",
      }),
    ),
    baseline: Type.Optional(
      Enum(['none', 'scratch'], {
        description:
          'scratch: also train the same architecture from random initialisation with the same data, split and stages (every layer trainable, batch norm training), and record it beside the transfer run: its metrics per epoch, its test accuracy, and its curves in report.html.',
        default: 'none',
      }),
    ),
    train: Type.Optional(train),
    anomaly: Type.Optional(anomalyKeys),
    evaluate: Type.Optional(evaluationKeys),
    adapt: Type.Optional(adaptKeys),
    export: Type.Optional(
      Type.Object(
        {
          quantize: Type.Optional(
            Enum(['none', 'uint8', 'float16'], {
              description:
                "Also export a copy with quantized weights for the web (model-uint8/ or model-float16/), which tf.loadLayersModel loads as it is (tfjs's weight-manifest quantization): uint8 is about 4× smaller (per tensor, v ≈ q·scale + min), float16 2×. The quantized copy's test accuracy is in summary.json beside the float model's.",
              default: 'none',
            }),
          ),
          demoPage: Type.Optional(
            Type.Boolean({
              description:
                'index.html beside each exported image model: a page that classifies a picked image offline, with tfjs and the weights inside it. Default: written when the weights take up to 32 MiB (a bigger model makes a page too big to open or keep). true: always; false: never.',
            }),
          ),
        },
        {
          description: 'What the run exports besides the float32 model in model/.',
          additionalProperties: false,
          default: {},
        },
      ),
    ),
    sweep: Type.Optional(sweep),
  },
  {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://tlpipe.dev/schemas/pipeline.schema.json',
    title: 'tlpipe pipeline',
    description:
      'One transfer-learning experiment: the dataset, the pretrained base, what stays frozen, the new head and the training stages. Paths are relative to the pipeline file.',
    additionalProperties: false,
  },
);

/** A pipeline file as written: every key the schema makes optional is optional. */
export type PipelineFile = Static<typeof PipelineFileSchema>;
export type StageAsWritten = Static<typeof stage>;
export type { HeadLayerAsWritten };
export type FreezeRule = Static<typeof freezeRule>;
export type IdxFilesAsWritten = Static<typeof idxFiles>;
export type SweepAsWritten = Static<typeof sweep>;
export type { EvaluationAsWritten } from './evaluation-keys.js';
export type SweepParameterAsWritten = Static<typeof sweepParameter>;

/** The schema as the JSON document editors and ajv read (TypeBox's own markers are symbols, so JSON leaves them out). */
export function pipelineJsonSchema(): string {
  return JSON.stringify(PipelineFileSchema, null, 2) + '\n';
}
