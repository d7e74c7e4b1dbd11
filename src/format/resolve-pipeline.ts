import path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { headLayerEntry, headLayerSchema, type HeadLayerType } from './head-layers/registry.js';
import { cutTheHeadNeeds, expandUnet, isUnet } from './head-layers/unet.js';
import { PipelineFileSchema } from './schema.js';
import { resolveEvaluation } from './evaluation-keys.js';
import { resolveAdapt, type SourceSpec } from './adaptation-keys.js';
import { datasetFormat, type WrittenDatasetKeys } from './dataset-formats/index.js';
import { sourceSchema } from './dataset-formats/dataset-schema.js';
import { expandStrategy, NAMED_STRATEGIES, type NamedStrategy, type StrategyChoices } from './strategy.js';
import { TASK_FORMATS } from './tasks/registry.js';
import type {
  AugmentSpec,
  CheckpointSpec,
  DatasetCommon,
  DatasetSpec,
  EarlyStoppingSpec,
  HeadLayerAsWritten,
  HeadLayerSpec,
  MonitorName,
  MonitorSpec,
  NormalizeSpec,
  OptimizerSpec,
  PipelineFile,
  PipelineSpec,
  PlateauSpec,
  ScheduleSpec,
  StageAsWritten,
} from './types.js';
import { NORMALIZE_PRESETS, ZOO, type NormalizePreset } from './zoo-catalog.js';

/** Formats whose images are pixel arrays, not image files. */
export const isArrayFormat = (format: PipelineFile['dataset']['format']): boolean =>
  format === 'mnist' || format === 'idx';

/** A base given as a path (not a zoo name): a model.json on disk. */
export const isModelPath = (model: string | undefined): boolean =>
  model !== undefined &&
  !model.startsWith('run:') &&
  !/^https?:\/\//.test(model) &&
  (model.endsWith('.json') || model.includes('/'));

/** `run:<pipeline>` or `run:<pipeline>/<NNNN>[-<fp8>]`: the exported model of an earlier run. */
export function parseRunRef(model: string | undefined): { pipeline: string; id?: string } | undefined {
  const match = model?.match(/^run:([A-Za-z0-9][A-Za-z0-9._-]{0,63})(?:\/(\d{4}(?:-[0-9a-f]{8})?))?$/);
  return match ? { pipeline: match[1]!, ...(match[2] ? { id: match[2] } : {}) } : undefined;
}

/** A base downloaded from an address. */
export const isModelUrl = (model: string | undefined): boolean => model !== undefined && /^https?:\/\//.test(model);

/**
 * The file name without its extension, made a safe folder name: runs go to
 * runs/<name>/, so `..`, separators and odd characters must not reach it
 * (the schema holds a written `name` to the same pattern).
 */
export function nameFromFile(file: string): string {
  const stem = path.basename(file).replace(/\.[^.]*$/, '');
  const safe = stem
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return safe === '' ? 'pipeline' : safe;
}

/** A file with every schema default filled in: what is left optional has no default that holds on its own. */
type Defaulted = PipelineFile & {
  seed: number;
  backend: NonNullable<PipelineFile['backend']>;
  task: NonNullable<PipelineFile['task']>;
  base: NonNullable<PipelineFile['base']> & { model: string };
  baseline: 'none' | 'scratch';
  export: { quantize: 'none' | 'uint8' | 'float16'; demoPage?: boolean };
  train: NonNullable<PipelineFile['train']> & {
    batchSize: number;
    classWeights: 'none' | 'balanced';
    checkpoints: NonNullable<NonNullable<PipelineFile['train']>['checkpoints']>;
  };
};

/**
 * The pipeline with every default filled: first what a `strategy` fills
 * where the file is silent, then the schema's own defaults (its
 * `default` keywords, by TypeBox), then those that depend on another key
 * (the cut on the base model, a stage's batch size on train.batchSize,
 * whether images are stretched on the format), then absolute paths. The
 * file has passed the schema and the file rules. For `strategy: auto`,
 * also the keys each named strategy would fill. Pure.
 */
export function resolvePipeline(
  file: string,
  written: PipelineFile,
): { spec: PipelineSpec; strategyChoices?: StrategyChoices } {
  if (written.strategy !== 'auto') return { spec: resolveWith(file, written, written.strategy) };
  // `auto` is head-only until measured (what `tlpipe validate` checks); the keys of every named strategy are
  // resolved now, so that the planner's choice, once measured, is a pick and not a second resolution.
  const choice = (strategy: NamedStrategy): StrategyChoices[NamedStrategy] => {
    const spec = resolveWith(file, written, strategy);
    return { freeze: spec.freeze, stages: spec.train.stages };
  };
  const strategyChoices = Object.fromEntries(
    NAMED_STRATEGIES.map((strategy) => [strategy, choice(strategy)]),
  ) as Record<NamedStrategy, StrategyChoices[NamedStrategy]>;
  return { spec: resolveWith(file, written, 'head-only'), strategyChoices };
}

/** The pipeline resolved with `strategy` filling the keys the file leaves out. */
function resolveWith(file: string, written: PipelineFile, strategy: NamedStrategy | undefined): PipelineSpec {
  const requested = written.strategy;
  const expanded = strategy ? expandStrategy(written, strategy) : undefined;
  const f = Value.Default(PipelineFileSchema, structuredClone(expanded?.file ?? written)) as Defaulted & {
    train: { stages: StageAsWritten[] };
  };
  const absolute = path.resolve(file);
  const dir = path.dirname(absolute);
  const model = f.base.model;
  const zoo = ZOO[model];
  const d = f.dataset as Required<
    Pick<PipelineFile['dataset'], 'limit' | 'validation' | 'image' | 'labelColumn' | 'imageColumn' | 'onBadFile'>
  > &
    PipelineFile['dataset'];
  const augment = resolveAugment(d.augment as AugmentSpec | undefined);
  const common: DatasetCommon = {
    ...(d.classNames ? { classNames: d.classNames } : {}),
    ...(augment ? { augment } : {}),
    limit: { ...d.limit },
    validation: d.validation,
    // IDX arrays are stretched (they carry no aspect ratio worth keeping); photos are cropped.
    image: {
      size: d.image.size ?? f.base.inputSize ?? [96, 96],
      channels: d.image.channels ?? 3,
      fit: d.image.fit ?? (isArrayFormat(d.format) ? 'fill' : 'cover'),
    },
  };
  const run = parseRunRef(model);
  return {
    name: f.name ?? nameFromFile(file),
    file: absolute,
    seed: f.seed,
    backend: f.backend,
    task: f.task,
    dataset: resolveDataset(d, common, dir),
    base: {
      model,
      ...(isModelPath(model) ? { file: path.resolve(dir, model) } : {}),
      ...(run ? { run } : {}),
      ...(isModelUrl(model) || zoo?.url ? { url: zoo?.url ?? model } : {}),
      ...(f.base.sha256 ? { sha256: f.base.sha256 } : {}),
      ...(f.base.allowHttp ? { allowHttp: true } : {}),
      // A model.json base must name its cut (a rule says so); zoo entries know theirs.
      cut: f.base.cut ?? cutTheHeadNeeds(f.head, model) ?? zoo?.featureLayer ?? '',
      normalize: resolveNormalize(f.base.normalize ?? zoo?.normalize ?? 'unit'),
    },
    freeze: typeof f.freeze === 'string' || f.freeze === undefined ? [f.freeze ?? 'all'] : f.freeze,
    head: resolveHead(f.head),
    ...(requested && strategy ? { strategy: { requested, chosen: strategy, filled: expanded!.filled } } : {}),
    baseline: f.baseline,
    ...TASK_FORMATS[f.task].resolveOwnKeys?.(f),
    evaluate: resolveEvaluation(f.evaluate),
    ...optional(
      'adapt',
      resolveAdapt(f.adapt, (p) => path.resolve(dir, p)),
    ),
    ...optional('source', resolveSource(d.source, common, dir)),
    export: {
      quantize: f.export.quantize ?? 'none',
      ...(f.export.demoPage !== undefined ? { demoPage: f.export.demoPage } : {}),
    },
    train: {
      batchSize: f.train.batchSize,
      checkpoints: resolveCheckpoints(f.train.checkpoints, hasValidation(common.validation)),
      stages: (f.train.stages ?? []).map((s, i) => ({
        name: s.name ?? `stage-${i + 1}`,
        epochs: s.epochs,
        batchSize: s.batchSize ?? f.train.batchSize,
        optimizer: resolveOptimizer(s.optimizer as Required<NonNullable<StageAsWritten['optimizer']>>),
        schedule: resolveSchedule(s.schedule),
        ...(s.earlyStopping
          ? { earlyStopping: withMode(s.earlyStopping as Omit<EarlyStoppingSpec, 'mode'> & { mode: Mode }) }
          : {}),
        ...(s.reduceLROnPlateau
          ? { reduceLROnPlateau: withMode(s.reduceLROnPlateau as Omit<PlateauSpec, 'mode'> & { mode: Mode }) }
          : {}),
        classWeights: s.classWeights ?? f.train.classWeights,
        labelSmoothing: s.labelSmoothing!,
        unfreeze: s.unfreeze ?? [],
        freeze: s.freeze ?? [],
        batchNorm: s.batchNorm!,
      })),
    },
  };
}

type Mode = 'auto' | 'min' | 'max';

function resolveOptimizer(o: Required<NonNullable<StageAsWritten['optimizer']>>): OptimizerSpec {
  const rate = o.learningRate;
  return {
    name: o.name,
    learningRate: typeof rate === 'number' ? rate : rate.head,
    baseLearningRate: typeof rate === 'number' ? rate : rate.base,
    multipliers: o.multipliers,
    momentum: o.momentum,
    nesterov: o.nesterov,
    weightDecay: o.weightDecay ?? (o.name === 'adamw' ? 0.01 : 0),
  };
}

/** Each schedule type's defaults (the schema says them per key; which apply depends on the type). */
export function resolveSchedule(written: StageAsWritten['schedule']): ScheduleSpec {
  switch (written?.type ?? 'constant') {
    case 'constant':
      return { type: 'constant' };
    case 'step':
      return { type: 'step', everyEpochs: written!.everyEpochs ?? 1, factor: written!.factor ?? 0.1 };
    case 'exponential':
      return { type: 'exponential', factor: written!.factor ?? 0.9 };
    case 'cosine':
      return {
        type: 'cosine',
        warmupEpochs: written!.warmupEpochs ?? 0,
        minLearningRate: written!.minLearningRate ?? 0,
      };
    case 'oneCycle':
      return {
        type: 'oneCycle',
        warmupFraction: written!.warmupFraction ?? 0.3,
        divFactor: written!.divFactor ?? 25,
        finalDivFactor: written!.finalDivFactor ?? 1e4,
      };
  }
}

/** `auto` watches accuracies upwards and losses downwards. */
function resolveMode(monitor: MonitorName, mode: Mode): MonitorSpec['mode'] {
  return mode === 'auto' ? (monitor.endsWith('accuracy') || monitor.endsWith('IoU') ? 'max' : 'min') : mode;
}

function withMode<T extends { monitor: MonitorName; mode: Mode }>(
  written: T,
): Omit<T, 'mode'> & { mode: MonitorSpec['mode'] } {
  return { ...written, mode: resolveMode(written.monitor, written.mode) };
}

/** Whether there are validation metrics: a held-out fraction, or the test split. */
export const hasValidation = (validation: number | 'test'): boolean => validation === 'test' || validation > 0;

function resolveCheckpoints(written: Defaulted['train']['checkpoints'], hasValidation: boolean): CheckpointSpec {
  const monitor = written.monitor ?? (hasValidation ? 'val_loss' : 'loss');
  return {
    monitor,
    mode: resolveMode(monitor, written.mode ?? 'auto'),
    every: written.every!,
    keepLast: written.keepLast!,
    best: written.best!,
  };
}

function resolveAugment(written: AugmentSpec | undefined): AugmentSpec | undefined {
  if (!written) return undefined;
  const active =
    written.flipHorizontal ||
    written.rotate > 0 ||
    written.zoom > 0 ||
    written.translate > 0 ||
    written.brightness > 0 ||
    written.contrast > 0;
  return active ? { ...written } : undefined;
}

function resolveNormalize(
  written: NormalizePreset | { mean: number | number[]; std: number | number[] },
): NormalizeSpec {
  const triple = (v: number | number[]): [number, number, number] =>
    typeof v === 'number' ? [v, v, v] : [v[0]!, v[1]!, v[2]!];
  if (typeof written === 'string') {
    const preset = NORMALIZE_PRESETS[written];
    return { mean: triple(preset.mean), std: triple(preset.std), description: `${written}: ${preset.description}` };
  }
  const mean = triple(written.mean);
  const std = triple(written.std);
  return { mean, std, description: `(pixel / 255 − [${mean.join(', ')}]) / [${std.join(', ')}]` };
}

/** `{ [key]: value }` when there is a value, else nothing: a resolved spec holds no undefined keys. */
const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

/**
 * `dataset.source` read as a dataset of its own format, at the pipeline's
 * image size and channels, with no validation or test split (it only
 * trains) and no augmentation of its own (the training split's applies to
 * every training example).
 */
function resolveSource(
  written: PipelineFile['dataset']['source'],
  target: DatasetCommon,
  dir: string,
): SourceSpec | undefined {
  if (!written) return undefined;
  const w = Value.Default(sourceSchema, structuredClone(written)) as NonNullable<PipelineFile['dataset']['source']>;
  const common: DatasetCommon = {
    ...(w.classNames ? { classNames: w.classNames } : {}),
    limit: { ...(w.limit?.perClass !== undefined ? { perClass: w.limit.perClass } : {}) },
    validation: 0,
    image: { ...target.image, fit: isArrayFormat(w.format) ? 'fill' : target.image.fit },
  };
  const keys = {
    ...(w as object),
    labelColumn: w.labelColumn ?? 'label',
    imageColumn: w.imageColumn ?? 'image',
    onBadFile: w.onBadFile ?? 'error',
  } as PipelineFile['dataset'] & WrittenDatasetKeys;
  return {
    dataset: resolveDataset(keys, common, dir),
    weight: w.weight ?? 1,
    ...(w.weightColumn !== undefined ? { weightColumn: w.weightColumn } : {}),
    decay: w.decay ?? 1,
    ...(w.labelMap ? { labelMap: { ...w.labelMap } } : {}),
  };
}

function resolveDataset(
  d: PipelineFile['dataset'] & WrittenDatasetKeys,
  common: DatasetCommon,
  dir: string,
): DatasetSpec {
  return datasetFormat(d.format).resolve(d, common, dir);
}

/** The head as written, `unet` expanded into its layers, each a typed entry with its defaults. */
function resolveHead(head: PipelineFile['head']): HeadLayerSpec[] {
  if (head === undefined) return [];
  return (isUnet(head) ? expandUnet(head) : head).map(resolveHeadLayer);
}

/** A head layer as written (`{ dense: {…} }`) with its schema defaults, resolved by its registry entry. */
function resolveHeadLayer(layer: HeadLayerAsWritten): HeadLayerSpec {
  const filled = Value.Default(headLayerSchema, structuredClone(layer)) as HeadLayerAsWritten;
  const [type, options] = Object.entries(filled)[0] as [HeadLayerType, unknown];
  // The schema has passed, so the options are the entry's own.
  return (headLayerEntry(type).resolve as (options: unknown) => HeadLayerSpec)(options);
}
