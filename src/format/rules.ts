import type { KeyPath } from '../diagnostics/diagnostic.js';
import { didYouMean } from '../diagnostics/did-you-mean.js';
import { unetFiltersPerSkip } from './head-layers/unet.js';
import { datasetFormat, FORMAT_NAMES } from './dataset-formats/index.js';
import { datasetInput } from './dataset-formats/input.js';
import { headShapeProblems } from './head-shape.js';
import { sweepIsWellFormed } from './sweep-rules.js';
import { EVALUATION_RULES } from './evaluation-keys.js';
import { ADAPTATION_FILE_RULES, ADAPTATION_RULES } from './adaptation-keys.js';
import { hasValidation, isArrayFormat, isModelUrl } from './resolve-pipeline.js';
import type { MonitorName, PipelineFile, PipelineSpec, TaskName } from './types.js';
import { DEFAULT_TASK, TASK_FORMATS } from './tasks/registry.js';
import { segmentationFolderRules } from './tasks/segmentation.js';
import { KNOWN_CLASS_COUNTS, ZOO } from './zoo-catalog.js';

/**
 * Checks the schema cannot express, as small named functions (Ludwig's
 * config_validation/checks.py) that return their findings as data: where
 * (a key path), what is wrong, how to fix it.
 *
 * Most run on the resolved spec, where every default is filled in, so no
 * rule derives a default again. A few are about what the file writes, which
 * the resolved spec no longer shows (a key another format reads, two keys
 * that say the same thing): those run on the file as written, before
 * resolution, which needs them to hold.
 */
export interface RuleFinding {
  path: KeyPath;
  /** Point at the key itself rather than its value. */
  key?: boolean;
  /** Other places the finding may point at, in order, when the file does not write `path`. */
  locateAt?: KeyPath[];
  message: string;
  hint?: string;
  severity?: 'error' | 'warning';
}
export type FileRule = (file: PipelineFile) => RuleFinding[];
export type SpecRule = (spec: PipelineSpec) => RuleFinding[];

/** Any base that is not a zoo entry: its layers and input are known only once it is loaded. */
const isExternalBase = (base: PipelineSpec['base']): boolean =>
  base.file !== undefined || base.run !== undefined || (base.url !== undefined && !ZOO[base.model]);

/** `base.model: none`: no pretrained base; the head learns from the images themselves. */
export const isNoBase = (model: string | undefined): boolean => model === 'none';

// ——— Rules on the file as written ———

/** `idx` reads the user's files, so it needs at least the training pair. */
export const idxNamesItsFiles: FileRule = (file) => {
  if (file.dataset.format !== 'idx' || file.dataset.train) return [];
  return [
    {
      path: ['dataset'],
      message: 'format `idx` needs `train: { images, labels }`',
      hint: 'e.g. train: { images: data/train-images-idx3-ubyte.gz, labels: data/train-labels-idx1-ubyte.gz }',
    },
  ];
};

/** `imageFolder` needs its folder, `csv` its file. */
export const formatNamesItsSource: FileRule = (file) => {
  const d = file.dataset;
  if (d.format === 'imageFolder' && !d.dir) {
    return [
      {
        path: ['dataset'],
        message: 'format `imageFolder` needs `dir`, the folder with one sub-folder per class',
        hint: 'e.g. dir: data/flowers',
      },
    ];
  }
  if (d.format === 'csv' && !d.file) {
    return [
      {
        path: ['dataset'],
        message: 'format `csv` needs `file`, the CSV with a label column and an image path column',
        hint: 'e.g. file: data/labels.csv',
      },
    ];
  }
  return [];
};

/** Each format reads its own keys; a key another format uses is flagged, not silently ignored. */
export const datasetKeysFitFormat: FileRule = (file) => {
  const format = file.dataset.format;
  const { keys: used, keysHint } = datasetFormat(format);
  const all = new Set(FORMAT_NAMES.flatMap((f) => datasetFormat(f).keys));
  const findings: RuleFinding[] = [...all]
    .filter((key) => key in file.dataset && !used.includes(key))
    .map((key) => ({
      path: ['dataset', key],
      key: true,
      message: `\`${key}\` is not used by format \`${format}\``,
      hint: keysHint,
    }));
  if (file.dataset.image?.fit !== undefined && isArrayFormat(format)) {
    findings.push({
      path: ['dataset', 'image', 'fit'],
      key: true,
      message: `\`fit\` applies to image files; format \`${format}\` images are stretched to \`size\``,
      hint: 'remove `fit`',
    });
  }
  if (file.dataset.featureColumns !== undefined && file.dataset.imageColumn !== undefined) {
    findings.push({
      path: ['dataset', 'imageColumn'],
      key: true,
      message: '`imageColumn` and `featureColumns` both say what a row holds',
      hint: 'a CSV row is either an image path or numeric features; keep one',
    });
  }
  return findings;
};

/** `test` is files for idx and a fraction for imageFolder and csv. */
export const testFitsFormat: FileRule = (file) => {
  const { format, test } = file.dataset;
  if (test === undefined) return [];
  if (format === 'idx' && typeof test !== 'object') {
    return [
      {
        path: ['dataset', 'test'],
        message: 'for format `idx`, `test` is the test IDX files',
        hint: 'test: { images: t10k-images-idx3-ubyte.gz, labels: t10k-labels-idx1-ubyte.gz }',
      },
    ];
  }
  if ((format === 'imageFolder' || format === 'csv' || format === 'segmentationFolder') && typeof test !== 'number') {
    return [
      {
        path: ['dataset', 'test'],
        message: `for format \`${format}\`, \`test\` is the fraction of each class held out for testing`,
        hint: format === 'imageFolder' ? 'e.g. test: 0.15, or a separate folder with testDir' : 'e.g. test: 0.15',
      },
    ];
  }
  if (format === 'imageFolder' && file.dataset.testDir !== undefined) {
    return [
      {
        path: ['dataset', 'test'],
        key: true,
        message: '`test` (a fraction) and `testDir` (a folder) both define the test split',
        hint: 'keep one of them',
      },
    ];
  }
  return [];
};

/** `base.inputSize` and `dataset.image.size` are one number said twice; they must agree. */
export const inputSizeSaidOnce: FileRule = (file) => {
  const [a, b] = [file.base?.inputSize, file.dataset.image?.size];
  return a && b && (a[0] !== b[0] || a[1] !== b[1])
    ? [
        {
          path: ['base', 'inputSize'],
          message: `base.inputSize ${a.join('×')} differs from dataset.image.size ${b.join('×')}`,
          hint: 'they are the same setting; give one of them',
        },
      ]
    : [];
};

/** Which schedule keys each schedule type reads. */
const SCHEDULE_KEYS: Readonly<Record<string, readonly string[]>> = {
  constant: [],
  step: ['everyEpochs', 'factor'],
  exponential: ['factor'],
  cosine: ['warmupEpochs', 'minLearningRate'],
  oneCycle: ['warmupFraction', 'divFactor', 'finalDivFactor'],
};

/** A schedule key another schedule type reads is a mistake, not a no-op; a step schedule says its step. */
export const scheduleKeysFitType: FileRule = (file) =>
  (file.train?.stages ?? []).flatMap((stage, i) => {
    const schedule = stage.schedule;
    if (!schedule) return [];
    const allowed = SCHEDULE_KEYS[schedule.type] ?? [];
    const findings: RuleFinding[] = Object.keys(schedule)
      .filter((key) => key !== 'type' && !allowed.includes(key))
      .map((key) => ({
        path: ['train', 'stages', i, 'schedule', key],
        key: true,
        message: `\`${key}\` does not apply to a ${schedule.type} schedule`,
        hint:
          allowed.length > 0
            ? `a ${schedule.type} schedule takes ${allowed.map((k) => `\`${k}\``).join(', ')}`
            : 'a constant schedule takes no settings',
      }));
    if (schedule.type === 'step' && schedule.everyEpochs === undefined) {
      findings.push({
        path: ['train', 'stages', i, 'schedule'],
        message: 'a step schedule needs `everyEpochs`',
        hint: 'e.g. `everyEpochs: 5, factor: 0.1` drops the rate 10× every 5 epochs',
      });
    }
    return findings;
  });

/** The task's own checks on the file as written (format/tasks): the keys it needs, or cannot use. */
export const taskFileRules: FileRule = (file) =>
  TASK_FORMATS[file.task ?? DEFAULT_TASK].fileRules.flatMap((rule) => rule(file));

/** A sweep ranks trials by a metric their runs record; each task says which it records. */
export const sweepMetricFitsTask: FileRule = (file) => {
  const task = file.task ?? DEFAULT_TASK;
  const name = file.sweep?.metric?.name;
  const recorded = TASK_FORMATS[task].sweepMetrics;
  return name === undefined || (recorded as readonly string[]).includes(name)
    ? []
    : [
        {
          path: ['sweep', 'metric', 'name'],
          message: `\`task: ${task}\` runs record no ${name}, so no trial could be ranked by it`,
          hint: `rank by one of ${recorded.join(', ')}`,
        },
      ];
};

/** A key that only another task reads is a mistake, not a setting. */
export const taskKeysFitTask: FileRule = (file) => {
  const task = file.task ?? DEFAULT_TASK;
  return Object.entries(TASK_FORMATS).flatMap(([owner, format]) =>
    owner === task
      ? []
      : format.ownKeys
          .filter((key) => (file as Record<string, unknown>)[key] !== undefined)
          .map((key) => ({
            path: [key],
            key: true,
            message: `\`${key}\` is read by \`task: ${owner}\` only, and this pipeline's task is ${task}`,
            hint: `write \`task: ${owner}\`, or remove \`${key}\``,
          })),
  );
};

export const FILE_RULES: readonly FileRule[] = [
  idxNamesItsFiles,
  formatNamesItsSource,
  datasetKeysFitFormat,
  testFitsFormat,
  inputSizeSaidOnce,
  scheduleKeysFitType,
  taskKeysFitTask,
  ...segmentationFolderRules,
  taskFileRules,
  sweepMetricFitsTask,
  sweepIsWellFormed,
  unetFiltersPerSkip,
  ...ADAPTATION_FILE_RULES,
];

// ——— Rules on the resolved spec ———

/** The base model must be one tlpipe can load. */
export const baseModelIsKnown: SpecRule = ({ base }) => {
  if (ZOO[base.model] || isExternalBase(base) || isNoBase(base.model)) return [];
  if (base.model.startsWith('run:')) {
    return [
      {
        path: ['base', 'model'],
        message: `\`${base.model}\` is not a run reference`,
        hint: 'write run:<pipeline> for its latest completed run, or run:<pipeline>/<NNNN> for one run',
      },
    ];
  }
  const known = Object.keys(ZOO);
  return [
    {
      path: ['base', 'model'],
      message: `unknown base model \`${base.model}\``,
      hint:
        didYouMean(base.model, known) ??
        `available offline: ${known.join(', ')}; or the path of a model.json, such as another run's model/model.json`,
    },
  ];
};

/**
 * A model.json base has no known feature layer, so where to cut must be said.
 * Only whether the file says it: that the cut fits the base is checked once
 * the base is read, in one place (engine/facts/cut-base).
 */
export const fileBaseNamesItsCut: SpecRule = ({ base }) =>
  isExternalBase(base) && base.cut === ''
    ? [
        {
          path: ['base', 'model'],
          message:
            'a model.json or run: base needs `cut`: the last layer to keep (usually the one before its classifier)',
          hint: '`tlpipe plan` lists the nearest layer names when the cut is wrong',
        },
      ]
    : [];

/** The image must be at least as large as the base architecture accepts. */
export const imageFitsBase: SpecRule = ({ base, dataset }) => {
  const entry = ZOO[base.model];
  const size = dataset.image.size;
  if (!entry || Math.min(...size) >= entry.minInputSize) return [];
  return [
    {
      path: ['dataset', 'image', 'size'],
      locateAt: [['base', 'inputSize']],
      message: `${entry.name} needs images of at least ${entry.minInputSize}×${entry.minInputSize}, got ${size[0]}×${size[1]}`,
      hint: `its weights were trained at ${entry.nativeInputSize.join('×')}; larger inputs give better features but cost time`,
    },
  ];
};

/** Zoo bases take RGB: gray input is for a model without a pretrained base (or one trained on gray images, checked once it is loaded). */
export const channelsFitBase: SpecRule = ({ base, dataset }) => {
  const entry = ZOO[base.model];
  if (!entry || !('image' in dataset) || dataset.image.channels === 3) return [];
  return [
    {
      path: ['dataset', 'image', 'channels'],
      message: `${entry.name} takes 3-channel (RGB) images, not ${dataset.image.channels}`,
      hint: 'remove `channels` (grayscale images are repeated to 3 channels); `channels: 1` is for `base: { model: none }` or a base trained on 1-channel images',
    },
  ];
};

/** Tabular CSV columns need a base whose input is a vector; zoo bases take images. */
export const featureColumnsNeedVectorBase: SpecRule = ({ dataset, base }) => {
  if (dataset.format !== 'csv' || dataset.featureColumns === undefined || isExternalBase(base) || isNoBase(base.model))
    return [];
  return [
    {
      path: ['dataset', 'featureColumns'],
      key: true,
      message: `tabular \`featureColumns\` need a base whose input is a vector; \`${base.model}\` takes images`,
      hint: 'set `base.model` to the model.json of a pretrained dense network (or `none` to train the head from scratch)',
    },
  ];
};

/**
 * The demo page classifies an image picked in the browser; a model of
 * tabular rows has no picture to pick, so asking for its page is refused
 * rather than silently not written.
 */
export const demoPageNeedsImages: SpecRule = (spec) =>
  spec.export.demoPage === true && datasetInput(spec.dataset).kind === 'rows'
    ? [
        {
          path: ['export', 'demoPage'],
          message: 'the demo page classifies an image picked in the browser; this pipeline trains on tabular rows',
          hint: 'remove `demoPage`; classify rows with `tlpipe predict <run> rows.csv`, or loadModel(run).predict(rows) in a program',
        },
      ]
    : [];

/** A test subsample needs a test split to sample from. */
const hasTestSplit = (d: PipelineSpec['dataset']): boolean =>
  d.format === 'mnist' ||
  (d.format === 'idx'
    ? d.test !== undefined
    : d.testFraction > 0 || (d.format === 'imageFolder' && d.testDir !== undefined));

export const testLimitNeedsTestSplit: SpecRule = ({ dataset: d }) => {
  if (d.limit.testPerClass === undefined || hasTestSplit(d)) return [];
  return [
    {
      path: ['dataset', 'limit', 'testPerClass'],
      key: true,
      message: '`testPerClass` limits the test split, but this dataset has none',
      hint:
        d.format === 'idx'
          ? 'add `test: { images, labels }` or remove `testPerClass`'
          : 'add `test: <fraction>` or `testDir`, or remove `testPerClass`',
    },
  ];
};

/** Validating on the test split needs one. */
export const validationOnTestNeedsTestSplit: SpecRule = ({ dataset: d }) =>
  d.validation === 'test' && !hasTestSplit(d)
    ? [
        {
          path: ['dataset', 'validation'],
          message: '`validation: test` validates on the test split, but this dataset has none',
          hint:
            d.format === 'idx'
              ? 'add `test: { images, labels }`, or hold out a fraction: `validation: 0.1`'
              : 'add `test: <fraction>` or `testDir`, or hold out a fraction: `validation: 0.1`',
        },
      ]
    : [];

/** Display names must cover every class when the class count is known up front. */
export const classNamesMatchClasses: SpecRule = ({ dataset }) => {
  const known = KNOWN_CLASS_COUNTS[dataset.format];
  const names = dataset.classNames;
  if (known === undefined || names === undefined || names.length === known) return [];
  return [
    {
      path: ['dataset', 'classNames'],
      message: `${dataset.format} has ${known} classes, but ${names.length} names are given`,
      hint: 'give one name per class, in label order',
    },
  ];
};

/** A sha256 pin checks a download; other bases have nothing to check it against. */
export const sha256PinsADownload: SpecRule = ({ base }) =>
  base.sha256 !== undefined && base.url === undefined
    ? [
        {
          path: ['base', 'sha256'],
          key: true,
          message: '`sha256` checks a downloaded base; this base is not downloaded',
          hint: 'remove `sha256`, or give `model` as an https:// address',
        },
      ]
    : [];

/**
 * The rank of what the head receives, where the spec alone decides it: a zoo
 * base outputs a feature map; `base: none` passes its input through (a row of
 * feature columns, or an image). Undefined for a model.json or downloaded base,
 * whose output only the planner knows.
 */
export function knownFeatureRank(spec: Pick<PipelineSpec, 'base' | 'dataset'>): number | undefined {
  if (isExternalBase(spec.base)) return undefined;
  if (isNoBase(spec.base.model)) return spec.dataset.format === 'csv' && spec.dataset.featureColumns ? 1 : 3;
  return 3;
}

/** The head must fit what it receives; the same check as the planner's, made early where the rank is known. */
export const headFitsFeatureMap: SpecRule = (spec) => {
  const rank = knownFeatureRank(spec);
  return rank === undefined
    ? []
    : headShapeProblems(spec.head, rank).map((p) => ({ path: ['head', p.index], message: p.message, hint: p.hint }));
};

/** `units: classes` only means something in a layer that outputs class scores. */
export const classesUnitsOnlyLast: SpecRule = ({ head }) =>
  head.flatMap((layer, i) =>
    layer.type === 'dense' && layer.units === 'classes' && i !== head.length - 1
      ? [
          {
            path: ['head', i, 'dense', 'units'],
            severity: 'warning' as const,
            message: '`units: classes` in a hidden layer makes its width the class count',
            hint: 'usually only the last layer has `units: classes`',
          },
        ]
      : [],
  );

/** Stage names name checkpoint folders and metric rows, so they must differ. */
export const stageNamesUnique: SpecRule = ({ train }) => {
  const seen = new Map<string, number>();
  const findings: RuleFinding[] = [];
  train.stages.forEach((stage, i) => {
    const first = seen.get(stage.name);
    if (first !== undefined) {
      findings.push({
        path: ['train', 'stages', i, 'name'],
        message: `stage name \`${stage.name}\` is already used by train.stages[${first}]`,
        hint: 'give each stage its own name',
      });
    } else seen.set(stage.name, i);
  });
  return findings;
};

/** Momentum is an sgd/rmsprop setting; adam has its own moment estimates. */
export const momentumNeedsSgdOrRmsprop: SpecRule = ({ train }) =>
  train.stages.flatMap((stage, i) =>
    stage.optimizer.momentum > 0 && (stage.optimizer.name === 'adam' || stage.optimizer.name === 'adamw')
      ? [
          {
            path: ['train', 'stages', i, 'optimizer', 'momentum'],
            key: true,
            message: `\`momentum\` has no effect with ${stage.optimizer.name}`,
            hint: 'use `name: sgd` or `name: rmsprop`, or remove `momentum`',
          },
        ]
      : [],
  );

/** Nesterov is a form of momentum. */
export const nesterovNeedsMomentum: SpecRule = ({ train }) =>
  train.stages.flatMap((stage, i) =>
    stage.optimizer.nesterov && !(stage.optimizer.momentum > 0 && stage.optimizer.name === 'sgd')
      ? [
          {
            path: ['train', 'stages', i, 'optimizer', 'nesterov'],
            key: true,
            message: '`nesterov` needs sgd with `momentum` above 0',
            hint: 'write `name: sgd, momentum: 0.9, nesterov: true`',
          },
        ]
      : [],
  );

/** A cosine warmup as long as the stage never decays. */
export const warmupShorterThanStage: SpecRule = ({ train }) =>
  train.stages.flatMap((stage, i) =>
    stage.schedule.type === 'cosine' && stage.schedule.warmupEpochs >= stage.epochs
      ? [
          {
            path: ['train', 'stages', i, 'schedule', 'warmupEpochs'],
            message: `the warmup (${stage.schedule.warmupEpochs} epochs) is not shorter than the stage (${stage.epochs})`,
            hint: 'warm up for a fraction of the stage, e.g. 1 epoch of 10',
          },
        ]
      : [],
  );

/** Validation metrics exist only with a validation split. */
export const monitorNeedsValidation: SpecRule = ({ dataset, train }) => {
  if (hasValidation(dataset.validation)) return [];
  return watchedMonitors(train)
    .filter((w) => w.monitor.startsWith('val_'))
    .map((w) => ({
      path: w.path,
      message: `${w.monitor} needs a validation split, but \`dataset.validation\` is 0`,
      hint: 'set `dataset.validation: 0.1`, or monitor `loss` or `accuracy`',
    }));
};

/** Every monitor the training settings watch, with where it is written. */
function watchedMonitors(train: PipelineSpec['train']): { path: KeyPath; monitor: string }[] {
  return [
    ...train.stages.flatMap((stage, i) => [
      ...(stage.earlyStopping
        ? [{ path: ['train', 'stages', i, 'earlyStopping', 'monitor'], monitor: stage.earlyStopping.monitor }]
        : []),
      ...(stage.reduceLROnPlateau
        ? [{ path: ['train', 'stages', i, 'reduceLROnPlateau', 'monitor'], monitor: stage.reduceLROnPlateau.monitor }]
        : []),
    ]),
    { path: ['train', 'checkpoints', 'monitor'], monitor: train.checkpoints.monitor },
  ];
}

/**
 * A metric only some tasks measure (val_meanIoU: masks) can be watched
 * only by a stage of one of them; each task lists its own (TaskFormat.monitors).
 */
export const monitorFitsTask: SpecRule = ({ task, train }) =>
  watchedMonitors(train).flatMap((w) => {
    const measuredBy = (Object.keys(TASK_FORMATS) as TaskName[]).filter((t) =>
      TASK_FORMATS[t].monitors.includes(w.monitor as MonitorName),
    );
    if (measuredBy.length === 0 || measuredBy.includes(task)) return [];
    return [
      {
        path: w.path,
        message: `${w.monitor} is measured for ${measuredBy.map((t) => `\`task: ${t}\``).join(', ')} only; this pipeline's task is ${task}`,
        hint: 'monitor val_accuracy or val_loss',
      },
    ];
  });

/** auto probes the zoo's candidate cuts; other bases have none on record. */
export const autoNeedsZooBase: SpecRule = ({ strategy, base }) =>
  strategy?.requested === 'auto' && !ZOO[base.model]
    ? [
        {
          path: ['strategy'],
          message: `\`strategy: auto\` probes the zoo's candidate cuts, and \`${base.model}\` is not a zoo model`,
          hint: 'name a strategy (head-only, head-then-all, low-level, all) and write base.cut',
        },
      ]
    : [];

/** Models are fetched over https; plain http must be asked for by name. */
export const httpNeedsAllowing: SpecRule = ({ base }) =>
  isModelUrl(base.model) && base.model.startsWith('http://') && !base.allowHttp
    ? [
        {
          path: ['base', 'model'],
          message: 'tlpipe downloads base models over https only',
          hint: 'use an https:// address, or add `allowHttp: true` under base for a server you trust (such as one on localhost)',
        },
      ]
    : [];

/** The checks of the pipeline's own task (format/tasks). */
export const taskRules: SpecRule = (spec) => TASK_FORMATS[spec.task].rules.flatMap((rule) => rule(spec));

export const SPEC_RULES: readonly SpecRule[] = [
  baseModelIsKnown,
  imageFitsBase,
  channelsFitBase,
  featureColumnsNeedVectorBase,
  demoPageNeedsImages,
  testLimitNeedsTestSplit,
  validationOnTestNeedsTestSplit,
  classNamesMatchClasses,
  fileBaseNamesItsCut,
  sha256PinsADownload,
  headFitsFeatureMap,
  classesUnitsOnlyLast,
  stageNamesUnique,
  momentumNeedsSgdOrRmsprop,
  nesterovNeedsMomentum,
  warmupShorterThanStage,
  monitorNeedsValidation,
  monitorFitsTask,
  autoNeedsZooBase,
  httpNeedsAllowing,
  ...EVALUATION_RULES,
  ...ADAPTATION_RULES,
  taskRules,
];
