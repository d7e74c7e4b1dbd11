import { readFileSync } from 'node:fs';
import path from 'node:path';
import { byPosition, type Diagnostic, type Result } from '../diagnostics/diagnostic.js';
import { isArrayFormat, isModelPath, isModelUrl, parseRunRef, RULES } from './rules.js';
import { validateAgainstSchema } from './schema-validation.js';
import { SourceFile } from './source-file.js';
import type {
  AugmentSpec, CheckpointSpec, DatasetCommon, DatasetSpec, EarlyStoppingSpec, HeadLayerSpec, IdxFiles, MonitorName, MonitorSpec, NormalizeSpec,
  OptimizerSpec, PipelineFile, PipelineSpec, PlateauSpec, ScheduleSpec, StageAsWritten,
} from './types.js';
import { expandStrategy, type NamedStrategy } from './strategy.js';
import { NORMALIZE_PRESETS, ZOO, type NormalizePreset } from './zoo-catalog.js';

/** Files larger than this are not pipelines; refuse before parsing. */
const MAX_PIPELINE_BYTES = 1 << 20;

export interface LoadedPipeline {
  spec: PipelineSpec;
  source: SourceFile;
}

/**
 * Reads, parses, validates and resolves one pipeline file. Every problem
 * comes back as a Diagnostic with its place in the file; nothing is thrown
 * for bad input.
 */
export function loadPipeline(file: string): Result<LoadedPipeline> {
  const displayName = path.relative(process.cwd(), file) || file;
  let text: string;
  try {
    const buffer = readFileSync(file);
    if (buffer.length > MAX_PIPELINE_BYTES) {
      return fail({ file: displayName, path: [], severity: 'error', message: `file is ${buffer.length} bytes; a pipeline file is at most ${MAX_PIPELINE_BYTES}` });
    }
    text = buffer.toString('utf8');
  } catch (error) {
    return fail(fileError(displayName, error));
  }
  return loadPipelineText(file, text, displayName);
}

/**
 * The file name without its extension, made a safe folder name: runs go to
 * runs/<name>/, so `..`, separators and odd characters must not reach it
 * (the schema holds a written `name` to the same pattern).
 */
export function nameFromFile(file: string): string {
  const stem = path.basename(file).replace(/\.[^.]*$/, '');
  const safe = stem.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64);
  return safe === '' ? 'pipeline' : safe;
}

/** Deeper than any pipeline needs; the YAML parser recurses per level and would run out of stack. */
const MAX_NESTING = 64;

/**
 * Where the text first nests deeper than MAX_NESTING: flow brackets (outside
 * quotes and comments) plus block indentation, counted before parsing.
 */
function tooDeep(text: string): { line: number; col: number; sourceLine: string } | undefined {
  let flow = 0;
  let quote: string | undefined;
  let line = 1;
  let lineStart = 0;
  let comment = false;
  const indents: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      comment = false;
      // Block nesting: how many greater indentations enclose this line.
      let indent = 0;
      while (text[i + 1 + indent] === ' ') indent++;
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      if (indents.length + flow > MAX_NESTING) return place(text, line, lineStart, i + 1 + indent);
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    // A quote opens a quoted scalar only where a scalar starts; in `don't` it is a plain character.
    const before = text.slice(lineStart, i).trimEnd();
    if ((c === '"' || c === "'") && (before === '' || /[:\-[{,?]$/.test(before))) quote = c;
    else if (c === '#' && (i === lineStart || /\s/.test(text[i - 1]!))) comment = true;
    else if (c === '[' || c === '{') {
      flow++;
      if (indents.length + flow > MAX_NESTING) return place(text, line, lineStart, i);
    } else if ((c === ']' || c === '}') && flow > 0) flow--;
  }
  return undefined;
}

function place(text: string, line: number, lineStart: number, offset: number): { line: number; col: number; sourceLine: string } {
  const end = text.indexOf('\n', lineStart);
  return { line, col: offset - lineStart + 1, sourceLine: text.slice(lineStart, end < 0 ? undefined : end).slice(0, 200) };
}

/** As loadPipeline, for text already in memory (`file` still anchors relative paths). */
export function loadPipelineText(file: string, text: string, displayName = file): Result<LoadedPipeline> {
  // Bounded work for any input: a pipeline is a few KiB.
  if (text.length > MAX_PIPELINE_BYTES) {
    return fail({ file: displayName, path: [], severity: 'error', message: `the text is ${text.length} characters; a pipeline file is at most ${MAX_PIPELINE_BYTES}` });
  }
  if (text.includes('\u0000')) {
    return fail({ file: displayName, path: [], severity: 'error', message: 'this is a binary file, not a YAML pipeline' });
  }
  const deep = tooDeep(text);
  if (deep) {
    return fail({
      file: displayName, line: deep.line, col: deep.col, sourceLine: deep.sourceLine, path: [], severity: 'error',
      message: `nested more than ${MAX_NESTING} levels deep`, hint: 'a pipeline nests a few levels; look for unclosed [ or { above this point',
    });
  }
  const source = new SourceFile(displayName, text);
  const syntax = source.syntaxDiagnostics();
  const syntaxErrors = syntax.filter((d) => d.severity === 'error');
  if (syntaxErrors.length > 0) return fail(...syntaxErrors);

  let data: unknown;
  try {
    data = source.toJS();
  } catch (error) {
    return fail({ file: displayName, path: [], severity: 'error', message: (error as Error).message, hint: 'write the values out instead of repeating aliases' });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return fail(source.at({ offset: 0 }, {
      path: [], severity: 'error',
      message: 'a pipeline file is a YAML mapping (key: value lines)',
      hint: 'start from pipelines/quickstart.yaml',
    }));
  }

  const schemaErrors = validateAgainstSchema(source, data);
  if (schemaErrors.length > 0) return fail(...schemaErrors);

  const pipelineFile = data as PipelineFile;
  const findings = RULES.flatMap((rule) => rule(pipelineFile)).map((f) =>
    source.at({ path: f.path, key: f.key ?? false }, { path: f.path, message: f.message, hint: f.hint, severity: f.severity ?? 'error' }),
  );
  const ruleErrors = findings.filter((d) => d.severity === 'error');
  if (ruleErrors.length > 0) return fail(...ruleErrors);

  const warnings = [...syntax, ...findings].sort(byPosition);
  return { ok: true, value: { spec: resolvePipeline(file, pipelineFile), source }, warnings };
}

function fail(...diagnostics: Diagnostic[]): { ok: false; diagnostics: Diagnostic[] } {
  return { ok: false, diagnostics: diagnostics.sort(byPosition) };
}

function fileError(file: string, error: unknown): Diagnostic {
  const code = (error as NodeJS.ErrnoException).code;
  const message =
    code === 'ENOENT' ? 'no such file'
    : code === 'EISDIR' ? 'is a directory, not a pipeline file'
    : code === 'EACCES' ? 'permission denied'
    : (error as Error).message;
  return { file, path: [], severity: 'error', message, hint: code === 'ENOENT' ? 'check the path; pipelines/quickstart.yaml is an example' : undefined };
}

/**
 * Fills what the schema's defaults cannot: values that depend on other keys
 * (the cut on the base model), names derived from the file, absolute paths.
 * Input has passed the schema, whose defaults ajv has already written in.
 */
export function resolvePipeline(file: string, written: PipelineFile, chosen?: { strategy: NamedStrategy; cut?: string }): PipelineSpec {
  // A strategy fills the keys the file leaves out; `auto` starts as head-only until measured.
  const requested = written.strategy;
  const strategy = chosen?.strategy ?? (requested === 'auto' ? 'head-only' : requested);
  const expanded = strategy ? expandStrategy(written, strategy, chosen?.cut) : undefined;
  const f = (expanded?.file ?? written) as PipelineFile & { train: { stages: StageAsWritten[] } };
  const absolute = path.resolve(file);
  const dir = path.dirname(absolute);
  const model = f.base?.model ?? 'mobilenet_v2';
  const augment = resolveAugment(f.dataset.augment);
  const common: DatasetCommon = {
    ...(f.dataset.classNames ? { classNames: f.dataset.classNames } : {}),
    ...(augment ? { augment } : {}),
    limit: { ...f.dataset.limit },
    validation: f.dataset.validation ?? 0.1,
    // IDX arrays are stretched (they carry no aspect ratio worth keeping); photos are cropped.
    image: { size: f.dataset.image?.size ?? f.base?.inputSize ?? [96, 96], channels: 3 as const, fit: f.dataset.image?.fit ?? (isArrayFormat(f.dataset.format) ? 'fill' : 'cover') },
  };
  const batchSize = f.train?.batchSize ?? 32;
  const hasValidation = common.validation > 0;
  return {
    name: f.name ?? nameFromFile(file),
    file: absolute,
    seed: f.seed ?? 42,
    backend: f.backend ?? 'auto',
    dataset: resolveDataset(f.dataset, common, dir),
    base: {
      model,
      ...(isModelPath(model) ? { file: path.resolve(dir, model) } : {}),
      ...(parseRunRef(model) ? { run: parseRunRef(model)! } : {}),
      ...(isModelUrl(model) || ZOO[model]?.url ? { url: ZOO[model]?.url ?? model } : {}),
      ...(f.base?.sha256 ? { sha256: f.base.sha256 } : {}),
      ...(f.base?.allowHttp ? { allowHttp: true } : {}),
      // A model.json base must name its cut (a rule says so); zoo entries know theirs.
      cut: f.base?.cut ?? ZOO[model]?.featureLayer ?? '',
      normalize: resolveNormalize(f.base?.normalize ?? ZOO[model]?.normalize ?? 'unit'),
    },
    freeze: typeof f.freeze === 'string' || f.freeze === undefined ? [f.freeze ?? 'all'] : f.freeze,
    head: f.head.map(resolveHeadLayer),
    ...(requested && strategy ? { strategy: { requested, chosen: strategy, filled: expanded!.filled, ...(requested === 'auto' ? { asWritten: written } : {}) } } : {}),
    baseline: f.baseline ?? 'none',
    train: {
      batchSize,
      checkpoints: resolveCheckpoints(f.train?.checkpoints, hasValidation),
      stages: f.train.stages.map((s, i) => ({
        name: s.name ?? `stage-${i + 1}`,
        epochs: s.epochs,
        batchSize: s.batchSize ?? batchSize,
        optimizer: resolveOptimizer(s.optimizer),
        schedule: resolveSchedule(s.schedule),
        ...(s.earlyStopping ? { earlyStopping: resolveEarlyStopping(s.earlyStopping) } : {}),
        ...(s.reduceLROnPlateau ? { reduceLROnPlateau: resolvePlateau(s.reduceLROnPlateau) } : {}),
        classWeights: s.classWeights ?? f.train?.classWeights ?? 'none',
        labelSmoothing: s.labelSmoothing ?? 0,
        unfreeze: s.unfreeze ?? [],
        freeze: s.freeze ?? [],
        batchNorm: s.batchNorm ?? 'frozen',
      })),
    },
  };
}

type StageOptions = StageAsWritten;

function resolveOptimizer(written: StageOptions['optimizer']): OptimizerSpec {
  const name = written?.name ?? 'adam';
  const rate = written?.learningRate ?? 0.001;
  return {
    name,
    learningRate: typeof rate === 'number' ? rate : rate.head,
    baseLearningRate: typeof rate === 'number' ? rate : rate.base,
    multipliers: written?.multipliers ?? [],
    momentum: written?.momentum ?? 0,
    nesterov: written?.nesterov ?? false,
    weightDecay: written?.weightDecay ?? (name === 'adamw' ? 0.01 : 0),
  };
}

/** Each schedule's defaults, documented in the schema. */
export function resolveSchedule(written: StageOptions['schedule']): ScheduleSpec {
  switch (written?.type ?? 'constant') {
    case 'constant':
      return { type: 'constant' };
    case 'step':
      return { type: 'step', everyEpochs: written!.everyEpochs ?? 1, factor: written!.factor ?? 0.1 };
    case 'exponential':
      return { type: 'exponential', factor: written!.factor ?? 0.9 };
    case 'cosine':
      return { type: 'cosine', warmupEpochs: written!.warmupEpochs ?? 0, minLearningRate: written!.minLearningRate ?? 0 };
    case 'oneCycle':
      return { type: 'oneCycle', warmupFraction: written!.warmupFraction ?? 0.3, divFactor: written!.divFactor ?? 25, finalDivFactor: written!.finalDivFactor ?? 1e4 };
  }
}

/** `auto` watches accuracies upwards and losses downwards. */
function resolveMonitor(monitor: MonitorName, mode: 'auto' | 'min' | 'max' | undefined): MonitorSpec {
  return { monitor, mode: mode === undefined || mode === 'auto' ? (monitor.endsWith('accuracy') ? 'max' : 'min') : mode };
}

function resolveEarlyStopping(written: NonNullable<StageOptions['earlyStopping']>): EarlyStoppingSpec {
  return { ...resolveMonitor(written.monitor ?? 'val_loss', written.mode), patience: written.patience ?? 3, minDelta: written.minDelta ?? 0, restoreBest: written.restoreBest ?? true };
}

function resolvePlateau(written: NonNullable<StageOptions['reduceLROnPlateau']>): PlateauSpec {
  return {
    ...resolveMonitor(written.monitor ?? 'val_loss', written.mode),
    factor: written.factor ?? 0.1,
    patience: written.patience ?? 2,
    minDelta: written.minDelta ?? 1e-4,
    cooldown: written.cooldown ?? 0,
    minLearningRate: written.minLearningRate ?? 0,
  };
}

function resolveCheckpoints(written: NonNullable<PipelineFile['train']>['checkpoints'], hasValidation: boolean): CheckpointSpec {
  return {
    ...resolveMonitor(written?.monitor ?? (hasValidation ? 'val_loss' : 'loss'), written?.mode),
    every: written?.every ?? 1,
    keepLast: written?.keepLast ?? 3,
    best: written?.best ?? true,
  };
}

function resolveAugment(written: Partial<AugmentSpec> | undefined): AugmentSpec | undefined {
  const augment: AugmentSpec = { flipHorizontal: false, rotate: 0, zoom: 0, translate: 0, brightness: 0, contrast: 0, ...written };
  const active = augment.flipHorizontal || augment.rotate > 0 || augment.zoom > 0 || augment.translate > 0 || augment.brightness > 0 || augment.contrast > 0;
  return active ? augment : undefined;
}

function resolveNormalize(written: NormalizePreset | { mean: number | number[]; std: number | number[] }): NormalizeSpec {
  const triple = (v: number | number[]): [number, number, number] => (typeof v === 'number' ? [v, v, v] : [v[0]!, v[1]!, v[2]!]);
  if (typeof written === 'string') {
    const preset = NORMALIZE_PRESETS[written];
    return { mean: triple(preset.mean), std: triple(preset.std), description: `${written}: ${preset.description}` };
  }
  const mean = triple(written.mean);
  const std = triple(written.std);
  return { mean, std, description: `(pixel / 255 − [${mean.join(', ')}]) / [${std.join(', ')}]` };
}

function resolveDataset(d: PipelineFile['dataset'], common: DatasetCommon, dir: string): DatasetSpec {
  const files = (p: { images: string; labels: string }): IdxFiles => ({
    images: path.resolve(dir, p.images),
    labels: path.resolve(dir, p.labels),
  });
  switch (d.format) {
    case 'mnist':
      return { format: 'mnist', ...common };
    case 'idx':
      return { format: 'idx', ...common, train: files(d.train!), ...(typeof d.test === 'object' ? { test: files(d.test) } : {}) };
    case 'imageFolder':
      return {
        format: 'imageFolder',
        ...common,
        dir: path.resolve(dir, d.dir!),
        ...(d.testDir ? { testDir: path.resolve(dir, d.testDir) } : {}),
        testFraction: typeof d.test === 'number' ? d.test : 0,
        onBadFile: d.onBadFile ?? 'error',
      };
    case 'csv':
      return {
        format: 'csv',
        ...common,
        file: path.resolve(dir, d.file!),
        labelColumn: d.labelColumn ?? 'label',
        imageColumn: d.imageColumn ?? 'image',
        ...(d.featureColumns ? { featureColumns: d.featureColumns } : {}),
        testFraction: typeof d.test === 'number' ? d.test : 0,
        onBadFile: d.onBadFile ?? 'error',
      };
  }
}

function resolveHeadLayer(layer: PipelineFile['head'][number]): HeadLayerSpec {
  if ('dense' in layer) {
    const { units, activation = 'linear', useBias = true, kernelRegularizer } = layer.dense;
    return { type: 'dense', units, activation, useBias, ...(kernelRegularizer ? { kernelRegularizer } : {}) };
  }
  if ('dropout' in layer) return { type: 'dropout', rate: layer.dropout.rate };
  if ('conv2d' in layer) {
    const { filters, kernelSize = 3, strides = 1, padding = 'same', activation = 'relu', kernelRegularizer } = layer.conv2d;
    const size: [number, number] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    return { type: 'conv2d', filters, kernelSize: size, strides, padding, activation, ...(kernelRegularizer ? { kernelRegularizer } : {}) };
  }
  if ('maxPooling2d' in layer) {
    const { poolSize = 2, strides, padding = 'valid' } = layer.maxPooling2d ?? {};
    return { type: 'maxPooling2d', poolSize, strides: strides ?? poolSize, padding };
  }
  if ('activation' in layer) return { type: 'activation', activation: layer.activation.activation };
  if ('reshape' in layer) return { type: 'reshape', targetShape: layer.reshape.targetShape };
  if ('batchNormalization' in layer) return { type: 'batchNormalization' };
  const type = Object.keys(layer)[0] as 'flatten' | 'globalAveragePooling2d' | 'globalMaxPooling2d';
  return { type };
}
