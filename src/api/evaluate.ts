import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { splitSource, type SplitData } from '../engine/data/datasets.js';
import { readFeatureRows } from '../engine/data/feature-rows.js';
import { decodedCacheBytes, listImageFolder, readImageSplits } from '../engine/data/image-folder.js';
import { exampleSource } from '../engine/evaluate/evaluate.js';
import type { TestMetrics } from '../engine/evaluate/metrics.js';
import type { SegmentationTestMetrics } from '../engine/tasks/segmentation/evaluate-masks.js';
import type { AnomalyTestMetrics } from '../engine/tasks/anomaly/evaluate-anomaly.js';
import { evaluateExportedModel } from '../engine/evaluate/exported-model.js';
import type { BatchSource } from '../engine/data/batches.js';
import { inferenceBatch } from '../plan/memory-estimate.js';
import { writeFileAtomic } from '../store/atomic-write.js';
import type { ExportedModelInfo } from '../store/model-folder.js';
import { readPlan, readResolved } from '../store/plan-file.js';
import { evaluationOutcome, exampleName, runDataset } from './evaluation-inputs.js';
import { confusionMatrixCsv } from '../store/report-file.js';
import type { LayersModel } from '@tensorflow/tfjs';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { findExportedModel, openExportedModel, type ModelOptions, type OpenedModel } from './load-model.js';
import { folderTasks, modelTasks } from './tasks/registry.js';
import { userErrorsAt } from './run-refs.js';
import { failed, problem, type Outcome } from './types.js';
import { checkedTransforms, ttaNeedsImages, type TtaTransform } from './tta-option.js';

export interface EvaluateOptions extends ModelOptions {
  /**
   * Labelled data instead of the run's test split. A classifier: a folder of
   * images with one sub-folder per class, named as the model's classes (a
   * tabular run: a CSV file of rows with its feature columns and label
   * column). A segmentation model: a folder with images/ and masks/ (a PNG
   * per image, same name, pixel value = class index). An anomaly model: a
   * folder with one sub-folder of images per class; a class the run took as
   * normal counts as normal, any other (one the run never saw too) as anomalous.
   */
  data?: string;
  /** Also write evaluation.json (and, for a classifier, confusion-matrix.csv) here. */
  out?: string;
  /** A classifier of images: also evaluate with test-time augmentation (the metrics' `tta`): see LoadedModel.classify. */
  tta?: readonly TtaTransform[];
}

/** What every evaluation says: the task, what was evaluated (the run's test split, or the folder given) and the class names. */
interface EvaluationOf<T extends string, M> {
  task: T;
  /** What was evaluated: the run's test split, or the folder given. */
  on: string;
  classNames: string[];
  metrics: M;
}

/** A classifier's evaluation: loss, accuracy, top-k, per class, the confusion matrix, the most wrong. */
export type ClassificationEvaluation = EvaluationOf<'classification', TestMetrics>;

/** A segmentation model's: mean IoU, pixel accuracy and IoU per class (the model's classes), the lowest images. */
export type SegmentationEvaluation = EvaluationOf<'segmentation', SegmentationTestMetrics>;

/**
 * An anomaly model's: AUROC, average precision, F1 and accuracy at the
 * model's threshold. `classNames` are the evaluated images' classes;
 * `normal` those of them the model takes as normal; `unseen` those that
 * were not among the run's classes (scored, and counted as anomalous).
 */
export type AnomalyEvaluation = EvaluationOf<'anomaly', AnomalyTestMetrics> & { normal: string[]; unseen: string[] };

/** `evaluate`'s result: tagged by the model's task. */
export type Evaluation = ClassificationEvaluation | SegmentationEvaluation | AnomalyEvaluation;

/**
 * An evaluation as evaluation.json and `--json` give it: where it was
 * evaluated, then the metrics (an anomaly model's also says which classes
 * it took as normal and which it had never seen).
 */
export function evaluationRecord(evaluation: Evaluation): object {
  const { on, metrics } = evaluation;
  return evaluation.task === 'anomaly'
    ? { on, ...metrics, normalClasses: evaluation.normal, unseenClasses: evaluation.unseen }
    : { on, ...metrics };
}

/**
 * A run's exported model evaluated on its own test split (the dataset as the
 * run resolved it, split with the run's seed: the numbers of summary.json),
 * or on labelled data given with `data`: for a classifier, a folder with a
 * sub-folder of images per class among its classes (a tabular one: a CSV of
 * rows); for a segmentation model, a folder with images/ and masks/; for an
 * anomaly model, a folder with a sub-folder of images per class, scored
 * normal or not by the classes the model took as normal.
 */
export async function evaluate(runRef: string, options: EvaluateOptions = {}): Promise<Outcome<Evaluation>> {
  return userErrorsAt(runRef, async () => {
    const found = await findExportedModel(runRef, options);
    if (!found.ok) return found.outcome;
    // A task with files of its own is told by its folder (anomaly: its outputs are patch features, not classes).
    for (const [name, task] of folderTasks())
      if (await task.holds(found.modelDir))
        return options.tta?.length ? ttaRefused(runRef, name) : task.evaluate(found, options);
    const opened = await openExportedModel(runRef, options);
    if (!opened.ok) return opened.outcome;
    try {
      const [name, task] = modelTasks().find(([, t]) => t.holds(opened.opened.model))!;
      if (options.tta?.length && name !== 'classification') return ttaRefused(runRef, name);
      return await task.evaluate(opened.opened, options);
    } finally {
      opened.opened.model.dispose();
    }
  });
}

/** Test-time augmentation averages a classifier's probabilities: other models have none to average. */
const ttaRefused = (runRef: string, task: string): Outcome<never> =>
  failed([
    problem(
      runRef,
      `test-time augmentation averages a classifier's probabilities; this model's task is ${task}`,
      'leave out --tta',
    ),
  ]);

/** A classifier scored on the run's test split, or on labelled images (a tabular one: rows) given with `data`. */
export function evaluateClassifier(
  opened: OpenedModel,
  options: EvaluateOptions,
): Promise<Outcome<ClassificationEvaluation>> {
  const { model, exported, outputs, runDir, warnings } = opened;
  return evaluateOpened(model, exported, outputs, runDir, warnings, options);
}

async function evaluateOpened(
  model: LayersModel,
  exported: ExportedModelInfo,
  outputs: 'probabilities' | 'logits',
  runDir: string | undefined,
  warnings: Diagnostic[],
  options: EvaluateOptions,
): Promise<Outcome<ClassificationEvaluation>> {
  const { labels: classNames, preprocessing: pre } = exported;
  const tta = checkedTransforms(options.tta);
  if (tta.length > 0 && pre.kind === 'tabular') throw ttaNeedsImages();
  const loss = outputs === 'probabilities' ? 'categoricalCrossentropy' : 'softmaxCrossEntropyFromLogits';
  // A model folder outside a run has no plan: a batch of 16 fits any image model tlpipe exports.
  const batch = runDir ? inferenceBatch((await readPlan(runDir)).base.layers) : 16;
  let source: BatchSource;
  let names: string[];
  let on: string;
  let skipped: { file: string; reason: string }[] = [];
  if (options.data && pre.kind === 'tabular') {
    const labelColumn = runDir ? await runLabelColumn(runDir) : 'label';
    const rows = await labelledRows(options.data, pre.columns, labelColumn, classNames);
    source = exampleSource(rows, [...rows.labels.keys()], pre, classNames.length);
    names = [...rows.labels.keys()].map((i) => exampleName(rows.name(i)));
    on = `${options.data} (${rows.count} rows)`;
  } else if (options.data && pre.kind === 'image') {
    // One class folder is enough to measure how a model does on that class.
    const listing = await listImageFolder(options.data, [], undefined, 1);
    const labels = listing.labels.map((label) => {
      const name = listing.classNames[label]!;
      const index = classNames.indexOf(name);
      if (index < 0)
        throw new UserError(
          `class folder \`${name}\` in ${options.data} is not one of the model's classes`,
          [],
          `the model knows: ${classNames.join(', ')}`,
        );
      return index;
    });
    // Every file decoded once first: one that cannot be is reported, and the rest are evaluated.
    const read = await readImageSplits(
      { files: listing.files, labels, root: options.data },
      undefined,
      ({ train }) => ({ train: [...train.keys()], validation: [], test: [] }),
      { size: pre.inputSize, fit: pre.fit, onBadFile: 'skip', cacheBytes: decodedCacheBytes() },
      [],
    );
    skipped = read.skipped;
    if (read.train.count === 0)
      throw new UserError(
        `no image in ${options.data} can be decoded`,
        [],
        "an image folder has one sub-folder per class, named as the model's classes",
      );
    source = exampleSource(read.train, read.selection.train, pre, classNames.length);
    names = read.selection.train.map((i) => exampleName(read.train.name(i)));
    on = `${options.data} (${read.train.count} images${skipped.length > 0 ? `, ${skipped.length} that cannot be decoded left out` : ''})`;
  } else {
    const { dataset } = await runDataset(runDir, exported.dir, {
      outside: 'pass --data <folder> with labelled images (one sub-folder per class)',
      other: 'pass --data <folder> with labelled images',
    });
    const { selection } = dataset;
    const split = splitSource(dataset, 'test');
    source = exampleSource(split, selection.test, pre, classNames.length);
    names = selection.test.map((i) => exampleName(split.name(i)));
    on = `its test split (${selection.test.length} examples)`;
  }
  const metrics = await evaluateExportedModel(model, source, loss, classNames, names, batch, tta, exported.decision);
  if (options.out)
    await writeFileAtomic(
      path.join(options.out, 'confusion-matrix.csv'),
      confusionMatrixCsv(metrics.confusionMatrix, classNames),
    );
  const evaluation: ClassificationEvaluation = { task: 'classification', on, classNames, metrics };
  // Each file that could not be read is a problem of its own; the metrics cover the rest.
  return evaluationOutcome(
    evaluation,
    evaluationRecord(evaluation),
    skipped,
    'cannot be decoded',
    warnings,
    options.out,
  );
}

/** The label column a tabular run was trained with (`label` unless its pipeline said otherwise). */
async function runLabelColumn(runDir: string): Promise<string> {
  const spec = await readResolved(runDir);
  return spec?.dataset.format === 'csv' ? spec.dataset.labelColumn : 'label';
}

/** A CSV of labelled rows as a split: every label must be one of the model's classes (named by `file:line`). */
async function labelledRows(
  file: string,
  columns: readonly string[],
  labelColumn: string,
  classNames: readonly string[],
): Promise<SplitData> {
  const read = await readFeatureRows(file, columns, { column: labelColumn, required: true });
  const unknown = read.labels!.flatMap((label, i) =>
    classNames.includes(label) ? [] : [`${read.names[i]}: label \`${label}\` is not one of the model's classes`],
  );
  if (unknown.length > 0)
    throw new UserError(
      `${unknown.length} row(s) with an unknown label:\n    ${unknown.slice(0, 5).join('\n    ')}${unknown.length > 5 ? `\n    … and ${unknown.length - 5} more` : ''}`,
      [],
      `the model knows: ${classNames.join(', ')}`,
    );
  const labels = Int32Array.from(read.labels!, (label) => classNames.indexOf(label));
  const { width, data } = read.rows;
  return {
    count: read.rows.count,
    labels,
    name: (index) => read.names[index]!,
    pixels: () => Promise.reject(new Error('tabular rows have no pixels')),
    vectors: async (indexes) => {
      const out = new Float32Array(indexes.length * width);
      indexes.forEach((index, row) => out.set(data.subarray(index * width, (index + 1) * width), row * width));
      return { data: out, count: indexes.length, width };
    },
  };
}
