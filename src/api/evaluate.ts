import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { readDataset, splitSource, type SplitData } from '../engine/data/datasets.js';
import { readFeatureRows } from '../engine/data/feature-rows.js';
import { decodedCacheBytes, listImageFolder, readImageSplits } from '../engine/data/image-folder.js';
import { exampleSource } from '../engine/evaluate/evaluate.js';
import { segmentsPixels } from '../engine/tasks/segmentation/segment-files.js';
import type { TestMetrics } from '../engine/evaluate/metrics.js';
import { evaluateExportedModel } from '../engine/evaluate/exported-model.js';
import type { BatchSource } from '../engine/data/batches.js';
import { inferenceBatch } from '../plan/memory-estimate.js';
import { writeFileAtomic, writeJsonAtomic } from '../store/atomic-write.js';
import type { ExportedModelInfo } from '../store/model-folder.js';
import { readPlan, readResolved } from '../store/plan-file.js';
import { confusionMatrixCsv } from '../store/report-file.js';
import type { LayersModel } from '@tensorflow/tfjs';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { openExportedModel, type ModelOptions } from './load-model.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, problem, type Outcome } from './types.js';

export interface EvaluateOptions extends ModelOptions {
  /** A folder of labelled images (one sub-folder per class, named as the model's classes) instead of the run's test split; for a tabular run, a CSV file of rows with its feature columns and label column. */
  data?: string;
  /** Also write evaluation.json and confusion-matrix.csv here. */
  out?: string;
}

export interface Evaluation {
  /** What was evaluated: the run's test split, or the folder given. */
  on: string;
  classNames: string[];
  metrics: TestMetrics;
}

/**
 * A run's exported model evaluated on its own test split (the dataset as the
 * run resolved it, split with the run's seed: the numbers of summary.json),
 * or on a folder of labelled images whose class folders are among its classes.
 */
export async function evaluate(runRef: string, options: EvaluateOptions = {}): Promise<Outcome<Evaluation>> {
  return userErrorsAt(runRef, async () => {
    const opened = await openExportedModel(runRef, options);
    if (!opened.ok) return opened.outcome;
    const { model, exported, outputs, runDir, warnings } = opened.opened;
    try {
      // Not built yet for masks: said, rather than scored as if each image had one class.
      if (segmentsPixels(model))
        throw new UserError(
          'tlpipe evaluate scores models with one class per image; this model segments (a class per pixel)',
          [],
          "the run's test scores per pixel and class are in its summary.json (test.meanIoU, test.perClass) and report.html",
        );
      return await evaluateOpened(model, exported, outputs, runDir, warnings, options);
    } finally {
      model.dispose();
    }
  });
}

async function evaluateOpened(
  model: LayersModel,
  exported: ExportedModelInfo,
  outputs: 'probabilities' | 'logits',
  runDir: string | undefined,
  warnings: Diagnostic[],
  options: EvaluateOptions,
): Promise<Outcome<Evaluation>> {
  const { labels: classNames, preprocessing: pre } = exported;
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
    names = [...rows.labels.keys()].map((i) => rows.name(i));
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
    names = read.selection.train.map((i) => path.relative(options.data!, read.train.name(i)));
    on = `${options.data} (${read.train.count} images${skipped.length > 0 ? `, ${skipped.length} that cannot be decoded left out` : ''})`;
  } else {
    if (!runDir)
      throw new UserError(
        `${exported.dir} is a model folder outside any run, so it has no test split`,
        [],
        'pass --data <folder> with labelled images (one sub-folder per class)',
      );
    const spec = await readResolved(runDir);
    if (!spec)
      throw new UserError(
        `${runDir} has no resolved.json, so its test split cannot be rebuilt`,
        [],
        'pass --data <folder> with labelled images',
      );
    const dataset = await readDataset(spec.dataset, { seed: spec.seed });
    const { selection } = dataset;
    if (selection.test.length === 0)
      throw new UserError('the run has no test split', [], 'pass --data <folder> with labelled images');
    const split = splitSource(dataset, 'test');
    source = exampleSource(split, selection.test, pre, classNames.length);
    names = selection.test.map((i) => split.name(i));
    on = `its test split (${selection.test.length} examples)`;
  }
  const metrics = await evaluateExportedModel(model, source, loss, classNames, names, batch);
  if (options.out) {
    await writeJsonAtomic(path.join(options.out, 'evaluation.json'), { on, ...metrics });
    await writeFileAtomic(
      path.join(options.out, 'confusion-matrix.csv'),
      confusionMatrixCsv(metrics.confusionMatrix, classNames),
    );
  }
  const evaluation = { on, classNames, metrics };
  // Each file that could not be read is a problem of its own; the metrics cover the rest.
  return skipped.length === 0
    ? ok(evaluation, warnings)
    : failed(
        skipped.map((s) => problem(s.file, `cannot be decoded: ${s.reason}`, 'it was left out of the evaluation')),
        warnings,
        evaluation,
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
