import type { EvaluateTask } from '../../plan/types.js';
import { splitSource } from '../data/datasets.js';
import { decisionMetrics } from '../evaluate/decision-metrics.js';
import { evaluateExamples, evaluatePredictions } from '../evaluate/evaluate.js';
import { exampleGallery, type ExampleGallery } from '../evaluate/example-gallery.js';
import { activationsCache } from '../cache/prefix-activations.js';
import { inferenceBatch } from '../../plan/memory-estimate.js';
import { setTrainableLayers } from '../model/trainable-layers.js';
import type { RunContext } from '../run/run-context.js';
import type { Evaluation, TaskInputs } from '../run/task-results.js';
import type { TaskEngine } from './task-engine.js';
import type { TtaTransform } from '../../format/evaluation-keys.js';
import type { TtaMetrics } from '../evaluate/metrics.js';
import { asTtaMetrics, ttaViews } from '../evaluate/test-time-augmentation.js';

/** The test split: the head on the features the last stage trained on, or the whole model on images. */
async function evaluateClassification(
  task: EvaluateTask,
  inputs: TaskInputs['evaluate'],
  run: RunContext,
): Promise<Evaluation> {
  const { plan, options, models } = run;
  setTrainableLayers(run.inputs.base, 'none');
  const onFeatures = task.on === 'features';
  const source = onFeatures ? inputs.features?.sources.test : inputs.data?.test;
  if (!source) throw new Error('the plan evaluates a test split the data does not have');
  const { dataset, selection, preprocessing } = run.inputs;
  const split = splitSource(dataset, 'test');
  const names = selection.test.map((i) => split.name(i));
  const evaluated = await evaluatePredictions(
    models.model(onFeatures ? 'head' : 'full'),
    source,
    plan.loss,
    plan.classes.names,
    names,
    inferenceBatch(plan.base.layers),
  );
  const metrics = inputs.decision
    ? {
        ...evaluated.metrics,
        decision: decisionMetrics(
          evaluated.actual,
          evaluated.probabilities,
          inputs.decision.rule,
          plan.classes.names,
          inputs.decision.fit,
        ),
      }
    : evaluated.metrics;
  const test = task.tta?.length ? { ...metrics, tta: await augmentedMetrics(task.tta, inputs, run, names) } : metrics;
  // The metrics are announced before the gallery is drawn: they are what a watcher waits for, the images are not.
  options.onEvent({ type: 'evaluate-end', test });
  // The report shows the hardest test images, and where the whole model looked in them. They are
  // a view of the run, not its result: if they cannot be made, the run still completes, and says so.
  let gallery: ExampleGallery | undefined;
  if (preprocessing.kind === 'image') {
    try {
      gallery = await exampleGallery(
        models.full,
        split,
        selection.test,
        preprocessing,
        plan.classes.names,
        evaluated,
        activationsCache(plan, options.cache, run.inputs.backend.name, options.onEvent),
      );
    } catch (error) {
      options.onEvent({
        type: 'log',
        level: 'warn',
        message: `the report shows no test images: ${(error as Error).message.split('\n')[0]}`,
      });
    }
  }
  return { test, ...(gallery ? { gallery } : {}) };
}

/** The test split with test-time augmentation: the whole model on each view of each image. */
async function augmentedMetrics(
  transforms: readonly TtaTransform[],
  inputs: TaskInputs['evaluate'],
  run: RunContext,
  names: string[],
): Promise<TtaMetrics> {
  const images = inputs.data?.test;
  if (!images) throw new Error('the plan augments a test split the data does not have');
  const { plan, models, options } = run;
  // The whole model on each view of each image: on a head-only run, many times the plain evaluation's work.
  const views = ttaViews(transforms).length;
  options.onEvent({
    type: 'log',
    level: 'info',
    message: `test-time augmentation: the whole model on ${views} views of each of ${images.count} test examples`,
  });
  const evaluated = await evaluatePredictions(
    models.full,
    images,
    plan.loss,
    plan.classes.names,
    names,
    inferenceBatch(plan.base.layers),
    transforms,
  );
  return asTtaMetrics(evaluated.metrics, transforms);
}

/** Classification: one class per example (image or row), the first task and the default. */
export const classificationEngine: TaskEngine = {
  runs: 'staged',
  evaluate: evaluateClassification,
  score: (model, source, plan, names) => evaluateExamples(model, source, plan.loss, plan.classes.names, names),
};
