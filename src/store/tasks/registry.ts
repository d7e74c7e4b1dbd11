import type { TSchema } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { TaskName } from '../../format/types.js';
import type { TaskTestMetrics } from '../../engine/tasks/test-metrics.js';
import { byTask } from '../read-back-shape.js';
import { anomalyStore } from './anomaly.js';
import { classificationStore } from './classification.js';
import { segmentationStore } from './segmentation.js';
import type { TaskStore, TestHeadline } from './task-store.js';

/** Each task's part of the run folder, by the name written under `task:` (format/tasks/registry.ts lists the names). */
export const TASK_STORES: { readonly [T in TaskName]: TaskStore<T> } = {
  classification: classificationStore,
  anomaly: anomalyStore,
  segmentation: segmentationStore,
};

/**
 * A file's schema by the task it says it is of (`task: 'anomaly'`), else
 * classification's (which has no `task` key): see byTask.
 */
export function shapeByTask(shapeOf: (store: TaskStore<TaskName>, task: TaskName) => TSchema): TSchema {
  const tagged = Object.fromEntries(
    (Object.keys(TASK_STORES) as TaskName[])
      .filter((task) => task !== 'classification')
      .map((task) => [task, shapeOf(TASK_STORES[task] as TaskStore<TaskName>, task)]),
  );
  return byTask(tagged, shapeOf(TASK_STORES.classification as TaskStore<TaskName>, 'classification'));
}

/** summary.json `test`, of whichever task. */
export const TestMetricsSchema = shapeByTask((store) => store.testMetrics);

/** The task whose metrics these are: classification's carry no tag. */
const taskOfTestMetrics = (test: TaskTestMetrics): TaskName => ('task' in test ? test.task : 'classification');

/** What a one-line account of the test split says, as its task puts it. */
export function testHeadline(test: TaskTestMetrics): TestHeadline {
  const store = TASK_STORES[taskOfTestMetrics(test)] as TaskStore<TaskName>;
  return store.headline(test as never);
}

/** A plan.json object's properties: every plan's, and its task's (`task` itself where the task is not the default). */
export const planShape = (common: Parameters<typeof Type.Object>[0]): TSchema =>
  shapeByTask((store) => Type.Object({ ...common, ...store.planFields }));
