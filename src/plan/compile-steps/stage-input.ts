import { isNoBase } from '../../format/rules.js';
import { frozenPrefix, prefixMode, type FrozenPrefix } from '../frozen-prefix.js';
import type { FeaturesTask, PlanStage, PlanTask, StageAlignment } from '../types.js';
import type { StageContext, StagesSoFar } from './stages-so-far.js';
import { headReadsBaseLayers } from './head.js';
import { fingerprinted } from './task-list.js';

type Split = Extract<FrozenPrefix, { kind: 'split' }>;

/** What a stage trains on, and the tasks with the one that makes it (when a new one is needed). */
export interface StageInput {
  tasks: readonly PlanTask[];
  /** The features head-only stages share, for the stages after this one. */
  features: FeaturesTask | undefined;
  /** The features task this stage trains on; absent: images, through the whole model (or the head alone without a base). */
  input: FeaturesTask | undefined;
  /** A fine-tuning stage trained above its frozen prefix: how the prefix's output is made. */
  prefix?: NonNullable<PlanStage['frozenPrefix']>;
  /** Why a fine-tuning stage runs images through the whole model. */
  whole?: string;
}

/**
 * A head-only stage trains on the base's features (none without a base: the
 * head reads the images); a fine-tuning stage on its frozen prefix's output
 * when the base splits there, else on images through the whole model.
 */
export function stageInput(
  context: StageContext,
  before: StagesSoFar,
  name: string,
  baseLayers: string[],
  alignment?: StageAlignment,
): StageInput {
  const unchanged = { tasks: before.tasks, features: before.features };
  const skips = headReadsBaseLayers(context.head);
  // Features of the cut (or a frozen prefix's output) lack the inner base layers a skip connection reads.
  if (skips.length > 0 && !isNoBase(context.spec.base.model))
    return {
      ...unchanged,
      input: undefined,
      whole: `the head reads base layer ${skips.join(', ')} (a skip connection)`,
    };
  if (context.imagesOnly) return { ...unchanged, input: undefined, whole: context.imagesOnly };
  if (baseLayers.length === 0) {
    // Without a base the features would be the images themselves: the head trains on the image batches directly.
    if (isNoBase(context.spec.base.model)) return { ...unchanged, input: undefined };
    const features = headFeatures(context, before, name);
    return {
      tasks: features === before.features ? before.tasks : [...before.tasks, features],
      features,
      input: features,
    };
  }
  // Target images have no cached prefix output, and the alignment's gradient reaches every trainable base layer from the cut.
  if (alignment)
    return {
      ...unchanged,
      input: undefined,
      whole: `adapt.method ${alignment.method} runs target images through the base beside each training batch`,
    };
  const split: FrozenPrefix = context.splitPrefix
    ? frozenPrefix(context.inputs.base.layers, new Set(baseLayers))
    : { kind: 'none', reason: 'the frozen prefix is off (TLPIPE_FROZEN_PREFIX=0)' };
  if (split.kind === 'none') return { ...unchanged, input: undefined, whole: split.reason };
  const prefix = prefixFeatures(context, before, name, split);
  return {
    tasks: prefix.reused ? before.tasks : [...before.tasks, prefix.task],
    features: before.features,
    input: prefix.task,
    prefix: prefix.record,
  };
}

/** The features of every split from the base as it now is: those made before while the base has not changed since. */
function headFeatures(context: StageContext, before: StagesSoFar, name: string): FeaturesTask {
  if (before.features && before.features.dependsOn.includes(before.baseSetBy)) return before.features;
  const { mode, headLayersApplied } = context.features;
  // An adapted base is not the plan's own: feature workers build theirs from the artifacts, without the target statistics.
  const pristine = before.baseSetBy === 'base';
  const from = pristine
    ? 'frozen base'
    : before.baseSetBy === 'adapt'
      ? "frozen base with the training images' own batch-norm statistics (AdaBN)"
      : `base as stage \`${before.baseSetBy.replace(/^train:/, '')}\` left it`;
  return fingerprinted<FeaturesTask>(before.tasks, {
    id: `features:${name}`,
    kind: 'features',
    dependsOn: ['data', before.baseSetBy],
    mode,
    pristine,
    description: `features of every split from the ${from}, ${mode === 'precompute' ? 'once per example' : 'per batch'}`,
    // Not the head: changing the head reuses the features.
    config: { folded: context.head.slice(0, headLayersApplied), mode },
  });
}

/** The frozen prefix's output for the training and validation splits: the last features made, when they are the same. */
function prefixFeatures(
  context: StageContext,
  before: StagesSoFar,
  name: string,
  split: Split,
): { task: FeaturesTask; reused: boolean; record: NonNullable<PlanStage['frozenPrefix']> } {
  const { inputs, spec } = context;
  const record = prefixMode(
    split,
    inputs.dataset.counts.train + inputs.dataset.counts.validation,
    spec.dataset.augment !== undefined,
  );
  const setBy =
    before.tasks
      .filter((t) => t.kind === 'train' && split.layers.some((layer) => before.lastTrainedBy.get(layer) === t.id))
      .pop()?.id ?? before.setupBase;
  // The runner keeps one set of features at a time: the last one made can serve this stage too.
  const last = before.tasks.filter((t): t is FeaturesTask => t.kind === 'features').pop();
  if (last && last.boundary === split.boundary && last.mode === record.mode && last.dependsOn.includes(setBy))
    return { task: last, reused: true, record };
  const task = fingerprinted<FeaturesTask>(before.tasks, {
    id: `prefix:${name}`,
    kind: 'features',
    dependsOn: ['data', setBy],
    mode: record.mode,
    pristine: setBy === 'base',
    boundary: split.boundary,
    description: `the frozen prefix's output (${split.layers.length} base layers up to ${split.boundary} → ${split.shape.join('×')}) for the training and validation splits, ${record.mode === 'precompute' ? `once per example (${(record.bytes / 2 ** 20).toFixed(1)} MiB)` : `per batch: ${record.reason}`}`,
    config: { boundary: split.boundary, mode: record.mode },
  });
  return { task, reused: false, record };
}
