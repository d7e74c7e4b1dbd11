import type { Diagnostic, Result } from '../diagnostics/diagnostic.js';
import { headShapeProblems } from '../format/head-shape.js';
import { ZOO } from '../format/zoo-catalog.js';
import { isNoBase } from '../format/rules.js';
import { applyFreezeRules, matchRule, resolveSelector, splitBlocks } from './freeze-rules.js';
import { describeSchedule } from './learning-rate-schedule.js';
import type { OptimizerSpec, PipelineSpec } from '../format/types.js';
import { fingerprint } from './fingerprint.js';
import { strategyKeys } from '../format/strategy.js';
import { heapProblems, type HeapProblem } from './memory-estimate.js';
import { frozenPrefix, prefixMode, type FrozenPrefix } from './frozen-prefix.js';
import type {
  BaseTask, BaselineTask, DataTask, EvaluateTask, ExportTask, FeaturesTask, HeadTask, ParameterGroup, Plan, PlanInputs, PlanStage, PlanTask, ResolvedHeadLayer, TrainTask,
} from './types.js';

/**
 * Compiles a validated pipeline and the facts about its inputs into a plan:
 * plain, JSON-serialisable data with a content fingerprint on every task.
 * Pure: no tfjs, no I/O, the same input always gives the same plan.
 */
/** How the engine may run the plan; the defaults are what `tlpipe run` does. */
export interface PlanOptions {
  /**
   * Train a fine-tuning stage above its frozen prefix (true), or run images
   * through the whole model inside every step (false: how tlpipe trained
   * before, kept to compare against; TLPIPE_FROZEN_PREFIX=0).
   */
  frozenPrefix?: boolean;
}

export function compilePlan(spec: PipelineSpec, inputs: PlanInputs, options: PlanOptions = {}): Result<Plan> {
  const numClasses = inputs.dataset.numClasses;
  const diagnostics: Diagnostic[] = [];
  const error = (path: Diagnostic['path'], message: string, hint?: string): void => {
    diagnostics.push({ file: spec.file, path, message, hint, severity: 'error' });
  };

  const names = spec.dataset.classNames ?? inputs.dataset.classNames ?? Array.from({ length: numClasses }, (_, i) => String(i));
  if (names.length !== numClasses) {
    error(['dataset', 'classNames'], `the labels have ${numClasses} classes, but ${names.length} names are given`, 'give one name per class, in label order');
  }
  if (numClasses < 2) {
    error(['dataset'], `the training labels have ${numClasses} class; classification needs at least 2`);
  }

  for (const problem of headShapeProblems(spec.head, inputs.base.cutOutputShape.length)) {
    error(['head', problem.index], problem.message, problem.hint);
  }

  const head = spec.head.map((layer): ResolvedHeadLayer =>
    layer.type === 'dense' ? { ...layer, units: layer.units === 'classes' ? numClasses : layer.units } : layer,
  );
  const lastIndex = head.length - 1;
  const last = head[lastIndex];
  if (last?.type === 'dense' && last.units !== numClasses) {
    error(['head', lastIndex, 'dense', 'units'], `the last layer outputs ${last.units} scores, but the dataset has ${numClasses} classes`, 'write `units: classes` and tlpipe fills in the class count');
  }
  if (diagnostics.length > 0) return { ok: false, diagnostics };

  const tasks: PlanTask[] = [];
  const addTask = <T extends PlanTask>(task: Omit<T, 'fingerprint'>): T => {
    const upstream = task.dependsOn.map((dep) => tasks.find((t) => t.id === dep)!.fingerprint);
    const made = { ...task, fingerprint: fingerprint({ kind: task.kind, config: task.config, upstream }) } as T;
    tasks.push(made);
    return made;
  };

  const { dataset } = spec;
  const dataConfig = {
    format: dataset.format,
    digest: inputs.dataset.digest,
    limit: dataset.limit,
    validation: dataset.validation,
    ...('testFraction' in dataset ? { testFraction: dataset.testFraction, onBadFile: dataset.onBadFile } : {}),
    image: dataset.image,
    normalize: spec.base.normalize,
    augment: dataset.augment ?? null,
    seed: spec.seed,
  };
  addTask<DataTask>({ id: 'data', kind: 'data', dependsOn: [], description: describeData(spec, inputs), config: dataConfig });
  addTask<BaseTask>({
    id: 'base', kind: 'base', dependsOn: [], description: isNoBase(spec.base.model) ? `no base: the head reads the ${inputs.base.cutOutputShape.join('×')} inputs themselves` : `${spec.base.model} cut at ${spec.base.cut} → ${inputs.base.cutOutputShape.join('×')}, frozen`,
    config: {
      // The digest names the weights; a model.json's path does not change what it computes.
      model: spec.base.file ? 'model.json' : spec.base.model,
      ...(spec.base.run ? { upstream: spec.base.run } : {}),
      cut: spec.base.cut,
      digest: inputs.base.digest,
      inputSize: dataset.image.size,
    },
  });
  addTask<HeadTask>({ id: 'head', kind: 'head', dependsOn: ['base'], description: `head: ${head.map(describeLayer).join(' → ')}`, config: { head, seed: spec.seed, numClasses } });

  const trainableByStage = trainableBaseLayers(spec, inputs, diagnostics);
  if (diagnostics.some((d) => d.severity === 'error')) return { ok: false, diagnostics: diagnostics.filter((d) => d.severity === 'error') };
  const headParams = headParamCount(head, inputs.base.cutOutputShape);
  const features = featureMode(inputs, head, dataset.augment !== undefined);
  const stages: PlanStage[] = [];
  let previous = 'head';
  // The task that last set the base (the base task, or a stage that fine-tuned it), and the features computed from it.
  let baseSetBy = 'base';
  let current: FeaturesTask | undefined;
  const featuresFor = (name: string): FeaturesTask => {
    if (current && current.dependsOn.includes(baseSetBy)) return current;
    const pristine = baseSetBy === 'base';
    current = addTask<FeaturesTask>({
      id: `features:${name}`, kind: 'features', dependsOn: ['data', baseSetBy], mode: features.mode, pristine,
      description: `features of every split from the ${pristine ? 'frozen base' : `base as stage \`${baseSetBy.replace(/^train:/, '')}\` left it`}, ${features.mode === 'precompute' ? 'once per example' : 'per batch'}`,
      // Not the head: changing the head reuses the features.
      config: { folded: head.slice(0, features.headLayersApplied), mode: features.mode },
    });
    return current;
  };
  // Which stage last trained each base layer: a prefix's output depends on the latest that trained one of its layers.
  const lastTrainedBy = new Map<string, string>();
  const prefixFor = (name: string, split: Extract<FrozenPrefix, { kind: 'split' }>): { task: FeaturesTask; record: NonNullable<PlanStage['frozenPrefix']> } => {
    const record = prefixMode(split, inputs.dataset.counts.train + inputs.dataset.counts.validation, dataset.augment !== undefined);
    const setBy = tasks.filter((t) => t.kind === 'train' && split.layers.some((layer) => lastTrainedBy.get(layer) === t.id)).pop()?.id ?? 'base';
    // The runner keeps one set of features at a time: the last one made can serve this stage too.
    const last = tasks.filter((t): t is FeaturesTask => t.kind === 'features').pop();
    if (last && last.boundary === split.boundary && last.mode === record.mode && last.dependsOn.includes(setBy)) return { task: last, record };
    const task = addTask<FeaturesTask>({
      id: `prefix:${name}`, kind: 'features', dependsOn: ['data', setBy], mode: record.mode, pristine: setBy === 'base', boundary: split.boundary,
      description: `the frozen prefix's output (${split.layers.length} base layers up to ${split.boundary} → ${split.shape.join('×')}) for the training and validation splits, ${record.mode === 'precompute' ? `once per example (${(record.bytes / 2 ** 20).toFixed(1)} MiB)` : `per batch: ${record.reason}`}`,
      config: { boundary: split.boundary, mode: record.mode },
    });
    return { task, record };
  };
  let epoch = 0;
  let baseChanged = false;
  for (const [index, stage] of spec.train.stages.entries()) {
    const id = `train:${stage.name}`;
    const baseLayers = trainableByStage[index]!;
    const trainable = baseLayers.length > 0 ? 'base+head' : 'head';
    baseChanged ||= trainable === 'base+head';
    const classWeights = stage.classWeights === 'balanced' ? balancedClassWeights(inputs.dataset.trainPerClass) : null;
    const parameterGroups = groupByLearningRate(stage.optimizer, baseLayers);
    const training = {
      batchSize: stage.batchSize, optimizer: stage.optimizer, parameterGroups, schedule: stage.schedule,
      ...(stage.earlyStopping ? { earlyStopping: stage.earlyStopping } : {}),
      ...(stage.reduceLROnPlateau ? { reduceLROnPlateau: stage.reduceLROnPlateau } : {}),
      classWeights, labelSmoothing: stage.labelSmoothing,
    };
    const config = { stage: stage.name, index, epochs: stage.epochs, ...training, trainable, trainableBaseLayers: baseLayers, batchNorm: stage.batchNorm, seed: spec.seed };
    const what = trainable === 'head' ? 'the head' : `the head and ${baseLayers.length} base layer(s)`;
    const distinctRates = new Set(parameterGroups.map((g) => g.learningRate)).size > 1;
    const rates = distinctRates ? parameterGroups.map((g) => `${g.name} ${g.learningRate}`).join(', ') : String(stage.optimizer.learningRate);
    const split = trainable === 'base+head' ? (options.frozenPrefix === false ? { kind: 'none' as const, reason: 'the frozen prefix is off (TLPIPE_FROZEN_PREFIX=0)' } : frozenPrefix(inputs.base.layers, new Set(baseLayers))) : undefined;
    const prefix = split?.kind === 'split' ? prefixFor(stage.name, split) : undefined;
    // Without a base the features would be the images themselves: the head trains on the image batches directly.
    const noBase = isNoBase(spec.base.model);
    const input = trainable === 'head' ? (noBase ? undefined : featuresFor(stage.name)) : prefix?.task;
    const on = noBase ? ', on the images' : trainable === 'head' ? '' : prefix ? `, above ${prefix.record.boundary} (the frozen prefix's output, ${prefix.record.mode === 'precompute' ? 'once per example' : 'per batch'})` : ', images through the whole model';
    const task = addTask<TrainTask>({
      id, kind: 'train', stage: index, ...(input ? { features: input.id } : {}),
      dependsOn: [previous, 'data', ...(input ? [input.id] : [])],
      description: `train ${what} ${stage.epochs} epoch(s), ${stage.optimizer.name} lr ${rates} (${describeSchedule(stage.schedule)}), batch ${stage.batchSize}${on}`,
      config,
    });
    for (const layer of baseLayers) lastTrainedBy.set(layer, id);
    const baseTrainableParams = inputs.base.layers.filter((l) => baseLayers.includes(l.name)).reduce((sum, l) => sum + l.params, 0);
    stages.push({
      name: stage.name, index, taskId: id, epochs: stage.epochs, firstEpoch: epoch + 1, lastEpoch: epoch + stage.epochs,
      ...training, trainable, weights: baseChanged ? 'full' : 'head', trainableBaseLayers: baseLayers, batchNorm: stage.batchNorm,
      ...(prefix ? { frozenPrefix: prefix.record } : split?.kind === 'none' ? { whole: split.reason } : {}),
      trainableParams: headParams + baseTrainableParams, totalParams: headParams + inputs.base.paramCount, fingerprint: task.fingerprint,
    });
    epoch += stage.epochs;
    previous = id;
    if (trainable === 'base+head') baseSetBy = id;
  }
  if (inputs.dataset.counts.test > 0) {
    // The last stage trained the head on features: evaluate it on the same features; else the whole model on images.
    const onFeatures = stages[stages.length - 1]?.trainable === 'head' ? current : undefined;
    addTask<EvaluateTask>({
      id: 'evaluate', kind: 'evaluate', on: onFeatures ? 'features' : 'images', ...(onFeatures ? { features: onFeatures.id } : {}),
      dependsOn: [previous, 'data', ...(onFeatures ? [onFeatures.id] : [])],
      description: `evaluate on the test split${onFeatures ? ' (head on the features)' : ' (the whole model on images)'}: loss, accuracy, per-class metrics, confusion matrix`,
      config: {},
    });
  }
  if (spec.baseline === 'scratch') {
    addTask<BaselineTask>({
      id: 'baseline', kind: 'baseline', dependsOn: ['data'],
      description: `baseline: the same architecture from random initialisation, ${epoch} epoch(s) over the same stages`,
      config: { head, stages: stages.map((s) => ({ epochs: s.epochs, optimizer: s.optimizer, schedule: s.schedule })), seed: spec.seed, base: inputs.base.digest },
    });
  }
  const quantize = spec.export.quantize === 'none' ? undefined : spec.export.quantize;
  const exported = addTask<ExportTask>({
    id: 'export', kind: 'export', dependsOn: [previous], config: { classNames: names, ...(quantize ? { quantize } : {}) }, ...(quantize ? { quantize } : {}),
    ...(spec.export.demoPage !== undefined ? { demoPage: spec.export.demoPage } : {}),
    description: `export the model (tfjs LayersModel) with labels.json and preprocessing.json${quantize ? `; and with ${quantize} weights in model-${quantize}/ (${quantize === 'uint8' ? '4' : '2'}× smaller), evaluated on the test split` : ''}`,
  });

  const plan: Plan = {
    formatVersion: 2,
    pipeline: spec.name,
    fingerprint: fingerprint(tasks.map((t) => t.fingerprint).concat(exported.fingerprint)),
    seed: spec.seed,
    backend: spec.backend,
    classes: { count: numClasses, names },
    data: { format: dataset.format, limit: dataset.limit, validation: dataset.validation, image: dataset.image, digest: inputs.dataset.digest },
    base: { model: spec.base.model, cut: spec.base.cut, ...(spec.base.run ? { upstream: spec.base.run } : {}), ...inputs.base },
    head,
    features,
    ...(dataset.augment ? { augment: dataset.augment } : {}),
    normalize: spec.base.normalize,
    ...(spec.strategy ? { strategy: strategyRecord(spec, inputs) } : {}),
    baseline: spec.baseline,
    checkpoints: spec.train.checkpoints,
    loss: last?.type === 'dense' && last.activation === 'softmax' ? 'categoricalCrossentropy' : 'softmaxCrossEntropyFromLogits',
    stages,
    tasks,
  };
  // The wasm heap is 4 GiB: a batch that cannot fit is an error now, not an abort mid-run.
  const heap = inputs.backend === 'wasm' ? heapProblems(plan).map((p) => heapDiagnostic(spec, p)) : [];
  if (heap.length > 0) return { ok: false, diagnostics: heap };
  return { ok: true, warnings: diagnostics.filter((d) => d.severity === 'warning'), value: plan };
}

/** A stage whose batch cannot fit the wasm heap, said at the batch size that set it. */
function heapDiagnostic(spec: PipelineSpec, p: HeapProblem): Diagnostic {
  return {
    file: spec.file, severity: 'error',
    path: ['train', 'stages', p.stage.index, 'batchSize'],
    locateAt: [['train', 'batchSize'], ['train', 'stages', p.stage.index]],
    message: `stage \`${p.stage.name}\` trains on batches of ${p.stage.batchSize} at ${spec.dataset.image.size.join('×')}, which need about ${(p.needBytes / 2 ** 30).toFixed(1)} GiB; the wasm backend's heap holds 4 GiB`,
    hint: p.largest > 0 ? `the largest batch that fits is ${p.largest}: set \`batchSize: ${p.largest}\` on this stage, or use smaller images or fewer unfrozen layers` : 'use smaller images or fewer unfrozen layers',
  };
}

/**
 * The trainable base layers of each stage: the top-level `freeze` rules
 * applied to an all-trainable base, then each stage's `unfreeze` and
 * `freeze` on top of the stage before. Problems (a rule matching nothing)
 * and warnings (a rule splitting a residual block) go to `diagnostics`.
 */
function trainableBaseLayers(spec: PipelineSpec, inputs: PlanInputs, diagnostics: Diagnostic[]): string[][] {
  const layers = inputs.base.layers.map((l) => l.name);
  const report = (path: Diagnostic['path'], problems: { index: number; kind: string; message: string; hint?: string }[]): void => {
    for (const p of problems) {
      const rulePath = [...path, ...(path[path.length - 1] === p.kind ? [] : [p.kind]), p.index];
      diagnostics.push({ file: spec.file, path: rulePath, message: p.message, ...(p.hint ? { hint: p.hint } : {}), severity: 'error' });
    }
  };
  const initial = applyFreezeRules(layers, new Set(layers), [{ kind: 'freeze', rules: spec.freeze }]);
  report(['freeze'], initial.problems);
  let trainable = initial.trainable;
  const blockPattern = ZOO[spec.base.model]?.blockPattern;
  return spec.train.stages.map((stage, index) => {
    const next = applyFreezeRules(layers, trainable, [{ kind: 'unfreeze', rules: stage.unfreeze }, { kind: 'freeze', rules: stage.freeze }]);
    report(['train', 'stages', index], next.problems);
    trainable = next.trainable;
    // Multipliers select layers as freeze rules do, through the same resolver: a typo is an error here too.
    stage.optimizer.multipliers.forEach((m, j) => {
      const at = ['train', 'stages', index, 'optimizer', 'multipliers', j, 'layers'];
      const resolved = resolveSelector(m.layers, layers);
      if (!resolved.ok) diagnostics.push({ file: spec.file, path: at, message: resolved.message, hint: resolved.hint, severity: 'error' });
      else if (!resolved.names.some((name) => trainable.has(name))) {
        diagnostics.push({ file: spec.file, path: at, severity: 'warning', message: `the multiplier for \`${typeof m.layers === 'string' ? m.layers : `from: ${m.layers.from}`}\` applies to no layer that learns in stage \`${stage.name}\``, hint: 'unfreeze those layers in this stage, or remove the multiplier' });
      }
    });
    if (blockPattern) {
      for (const block of splitBlocks(layers, trainable, new RegExp(blockPattern))) {
        diagnostics.push({
          file: spec.file, path: ['train', 'stages', index], severity: 'warning',
          message: `stage \`${stage.name}\` trains part of ${block} and freezes the rest`,
          hint: `unfreeze whole blocks, e.g. "${block}_*"`,
        });
      }
    }
    return layers.filter((name) => trainable.has(name));
  });
}

/**
 * The stage's learning weights split by peak learning rate: the head at
 * `learningRate`, base layers at `baseLearningRate` times the first
 * multiplier rule that names them. Layers with equal rates share a group.
 */
export function groupByLearningRate(optimizer: OptimizerSpec, trainableBaseLayers: string[]): ParameterGroup[] {
  const groups: ParameterGroup[] = [{ name: 'head', learningRate: optimizer.learningRate, head: true, baseLayers: [] }];
  const matched = optimizer.multipliers.map((m) => {
    const names = matchRule(m.layers, trainableBaseLayers);
    return { multiplier: m.multiplier, names: new Set(Array.isArray(names) ? names : []) };
  });
  for (const layer of trainableBaseLayers) {
    const multiplier = matched.find((m) => m.names.has(layer))?.multiplier ?? 1;
    const rate = optimizer.baseLearningRate * multiplier;
    let group = groups.find((g) => !g.head && g.learningRate === rate);
    if (!group) {
      group = { name: multiplier === 1 ? 'base' : `base×${multiplier}`, learningRate: rate, head: false, baseLayers: [] };
      groups.push(group);
    }
    group.baseLayers.push(layer);
  }
  return groups;
}

/** The keys a strategy filled, as a user would write them, so `tlpipe plan` can show them for copying. */
function strategyRecord(spec: PipelineSpec, inputs: PlanInputs): NonNullable<Plan['strategy']> {
  const { requested, chosen, filled } = spec.strategy!;
  const keys = strategyKeys(chosen, spec.base.model, spec.base.cut);
  return {
    requested,
    chosen,
    filled: {
      ...(filled.includes('base.cut') ? { base: { cut: spec.base.cut } } : {}),
      ...(filled.includes('freeze') ? { freeze: keys.freeze } : {}),
      ...(filled.includes('train.stages') ? { train: { stages: keys.stages } } : {}),
    },
    ...(inputs.strategy ? { measurement: inputs.strategy } : {}),
  };
}

/** Weights of the head layers, from the feature shape they receive. */
function headParamCount(head: ResolvedHeadLayer[], featureShape: number[]): number {
  let shape = featureShape;
  let total = 0;
  for (const layer of head) {
    if (layer.type === 'globalAveragePooling2d' || layer.type === 'globalMaxPooling2d') shape = [shape[shape.length - 1]!];
    else if (layer.type === 'flatten') shape = [shape.reduce((a, b) => a * b, 1)];
    else if (layer.type === 'dense') {
      total += shape[shape.length - 1]! * layer.units + (layer.useBias ? layer.units : 0);
      shape = [...shape.slice(0, -1), layer.units];
    } else if (layer.type === 'conv2d') {
      total += layer.kernelSize[0] * layer.kernelSize[1] * shape[shape.length - 1]! * layer.filters + layer.filters;
      const out = (n: number): number => (layer.padding === 'same' ? Math.ceil(n / layer.strides) : Math.ceil((n - layer.kernelSize[0] + 1) / layer.strides));
      shape = [out(shape[0]!), out(shape[1]!), layer.filters];
    } else if (layer.type === 'maxPooling2d') {
      const out = (n: number): number => (layer.padding === 'same' ? Math.ceil(n / layer.strides) : Math.floor((n - layer.poolSize) / layer.strides) + 1);
      shape = [out(shape[0]!), out(shape[1]!), shape[2]!];
    } else if (layer.type === 'batchNormalization') {
      // gamma and beta learn; the moving statistics are counted as weights but do not.
      total += 2 * shape[shape.length - 1]!;
    } else if (layer.type === 'reshape') shape = layer.targetShape;
  }
  return total;
}

/** Stored features beyond this size are recomputed per batch instead (the wasm heap is 4 GiB). */
export const MAX_PRECOMPUTED_FEATURE_BYTES = 1 << 30;

/** n / (classes × n_class), as scikit-learn's and Keras' "balanced"; a class with no examples weighs 0. */
export function balancedClassWeights(perClass: number[]): number[] {
  const total = perClass.reduce((a, b) => a + b, 0);
  return perClass.map((n) => (n === 0 ? 0 : total / (perClass.length * n)));
}

function featureMode(inputs: PlanInputs, head: ResolvedHeadLayer[], augmented: boolean): Plan['features'] {
  const { train, validation, test } = inputs.dataset.counts;
  let shape = inputs.base.cutOutputShape;
  let headLayersApplied = 0;
  for (const layer of head) {
    if (layer.type === 'globalAveragePooling2d' || layer.type === 'globalMaxPooling2d') shape = [shape[shape.length - 1]!];
    else if (layer.type === 'flatten') shape = [shape.reduce((a, b) => a * b, 1)];
    else break;
    headLayersApplied++;
  }
  const bytes = shape.reduce((a, b) => a * b, 1) * 4 * (train + validation + test);
  const perBatch = (reason: string): Plan['features'] => ({ mode: 'perBatch', reason, headLayersApplied, shape, bytes });
  if (augmented) return perBatch('augmentation changes every training image each epoch, so the base must see each batch');
  if (bytes > MAX_PRECOMPUTED_FEATURE_BYTES) return perBatch(`${(bytes / 2 ** 30).toFixed(2)} GiB of features would not fit in memory`);
  return { mode: 'precompute', headLayersApplied, shape, bytes };
}

function describeData(spec: PipelineSpec, inputs: PlanInputs): string {
  const { limit, validation, image } = spec.dataset;
  const perClass = limit.perClass ? `, ≤${limit.perClass}/class` : '';
  const testPerClass = limit.testPerClass ? `, test ≤${limit.testPerClass}/class` : '';
  const { train, validation: held, test } = inputs.dataset.counts;
  const shape = 'featureColumns' in spec.dataset && spec.dataset.featureColumns ? `${spec.dataset.featureColumns.length} feature columns` : `${image.size.join('×')}×${image.channels}`;
  return `${spec.dataset.format}: ${train} train / ${held} validation / ${test} test, ${inputs.dataset.numClasses} classes${perClass}${testPerClass} (validation ${validation}), ${shape}`;
}

function describeLayer(layer: ResolvedHeadLayer): string {
  switch (layer.type) {
    case 'dense':
      return `dense(${layer.units}${layer.activation === 'linear' ? '' : `, ${layer.activation}`})`;
    case 'dropout':
      return `dropout(${layer.rate})`;
    default:
      return layer.type;
  }
}
