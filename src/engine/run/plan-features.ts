import tf from '../tfjs.cjs';
import { fingerprinted } from '../../plan/compile-steps/task-list.js';
import { MAX_PRECOMPUTED_FEATURE_BYTES } from '../../plan/compile-steps/feature-mode.js';
import type { FeaturesTask, Plan } from '../../plan/types.js';
import type { StageCache } from '../cache/stage-cache.js';
import type { EventListener } from '../events.js';
import type { RunInputs } from '../facts/gather-facts.js';
import { setTrainableLayers } from '../model/trainable-layers.js';
import { RandomStreams } from '../random.js';
import { UserError } from '../../diagnostics/user-error.js';
import { FeatureWorkers } from './run-context.js';
import type { Split, SplitSources } from './task-results.js';
import { splitExamples } from './tasks/data.js';
import { runFeaturesTask } from './tasks/features.js';
import { runHeadTask } from './tasks/head.js';

/** One split's features as rows: `count` rows of `width` values, and the shape of one example's features before flattening. */
export interface SplitFeatures {
  data: Float32Array;
  count: number;
  width: number;
  shape: number[];
}

export interface PlanFeaturesOptions {
  onEvent: EventListener;
  signal?: AbortSignal;
  cache?: StageCache;
}

/**
 * The frozen base's features of every split (with the head's weightless
 * leading layers, as the plan folds them), made by the plan's own features
 * task — the same task, fingerprint and stage-cache entries a run of the
 * pipeline uses, so an audit after a run (or a second audit) reads them
 * from the cache, and a run after an audit does too. Always once per
 * example: an augmenting pipeline's own features are per batch, but its
 * un-augmented ones are what the audit describes. `unfolded`: without the
 * head's weightless leading layers (its pooling).
 */
export async function planFeatures(
  planned: Plan,
  inputs: RunInputs,
  options: PlanFeaturesOptions,
  { unfolded = false }: { unfolded?: boolean } = {},
): Promise<Partial<Record<Split, SplitFeatures>>> {
  // Unfolded: the base's output at the cut, without the head's pooling (its own features task, cached under its own key).
  const plan: Plan = unfolded
    ? { ...planned, features: { ...planned.features, headLayersApplied: 0, shape: [...planned.base.cutOutputShape] } }
    : planned;
  if (plan.features.bytes > MAX_PRECOMPUTED_FEATURE_BYTES)
    throw new UserError(
      `the base's features of every example would take ${(plan.features.bytes / 2 ** 30).toFixed(2)} GiB, more than the audit keeps in memory`,
      [],
      'audit fewer examples (dataset.limit.perClass), a smaller image size, or cut the base later (fewer values per example)',
    );
  if (inputs.cut !== plan.base.cut)
    throw new Error(`the base was built cut at ${inputs.cut}, but the plan cuts at ${plan.base.cut}`);
  setTrainableLayers(inputs.base, 'none');
  const task = ownFeaturesTask(plan);
  const streams = new RandomStreams(plan.seed);
  const models = await runHeadTask(
    { id: 'head', kind: 'head', dependsOn: [], fingerprint: '', description: '', config: {} },
    {},
    { plan, inputs, streams },
  );
  const data: SplitSources = {};
  for (const split of ['train', 'validation', 'test'] as const)
    if (inputs.selection[split].length > 0) data[split] = splitExamples({ plan, inputs }, split);
  const featureWorkers = new FeatureWorkers();
  try {
    const features = await runFeaturesTask(task, { data }, { plan, inputs, models, featureWorkers, options });
    try {
      const out: Partial<Record<Split, SplitFeatures>> = {};
      for (const [split, source] of Object.entries(features.sources) as [Split, NonNullable<SplitSources[Split]>][]) {
        if (split === 'validation' && inputs.dataset.validationFrom === 'test') continue;
        const { x, y } = await source.batch(Array.from({ length: source.count }, (_, i) => i));
        const shape = x.shape.slice(1);
        out[split] = {
          data: (await x.data()) as Float32Array,
          count: source.count,
          width: shape.reduce((a, b) => a * b, 1),
          shape,
        };
        tf.dispose([x, y]);
      }
      return out;
    } finally {
      features.dispose();
    }
  } finally {
    await featureWorkers.close();
    models.dispose();
  }
}

/**
 * The features task a plan makes for its head-only stages from the frozen
 * base, drafted as the planner drafts it (same config, same upstream
 * tasks, so the same fingerprint), in precompute mode.
 */
function ownFeaturesTask(plan: Plan): FeaturesTask {
  const { headLayersApplied } = plan.features;
  return fingerprinted<FeaturesTask>(plan.tasks, {
    id: 'features:audit',
    kind: 'features',
    dependsOn: ['data', 'base'],
    mode: 'precompute',
    pristine: true,
    description: 'features of every split from the frozen base, once per example',
    config: { folded: plan.head.slice(0, headLayersApplied), mode: 'precompute' },
  });
}
