import type { TaskName } from '../../format/types.js';
import { anomalyModel } from './anomaly.js';
import { classificationModel } from './classification.js';
import { segmentationModel } from './segmentation.js';
import type { TaskModel } from './task-model.js';

/**
 * Each task's exported model, by the name written under `task:`
 * (format/tasks/registry.ts lists the names). Getters, read when used: a
 * task module reaches this registry again through the API it uses
 * (evaluate, loadModel), so whichever module loads first, no entry is read
 * before its module has run.
 */
export const TASK_MODELS: { readonly [T in TaskName]: TaskModel } = {
  get classification() {
    return classificationModel;
  },
  get anomaly() {
    return anomalyModel;
  },
  get segmentation() {
    return segmentationModel;
  },
};

/** The tasks told from a model folder's files, then those told from the built model; classification, the default, last. */
export const folderTasks = (): [TaskName, Extract<TaskModel, { opens: 'folder' }>][] =>
  (Object.entries(TASK_MODELS) as [TaskName, TaskModel][]).filter(
    (entry): entry is [TaskName, Extract<TaskModel, { opens: 'folder' }>] => entry[1].opens === 'folder',
  );
export const modelTasks = (): [TaskName, Extract<TaskModel, { opens: 'model' }>][] =>
  (Object.entries(TASK_MODELS) as [TaskName, TaskModel][])
    .filter((entry): entry is [TaskName, Extract<TaskModel, { opens: 'model' }>] => entry[1].opens === 'model')
    .sort(([a], [b]) => Number(a === 'classification') - Number(b === 'classification'));
