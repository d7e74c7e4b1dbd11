import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../engine/kernels/backend.js';
import { readDataset, splitSource } from '../engine/data/datasets.js';
import { UserError } from '../engine/errors.js';
import { evaluateExamples, exampleSource, imageFileSource } from '../engine/evaluate/evaluate.js';
import { foldBatchNorm } from '../engine/model/fold-batch-norm.js';
import { listImageFolder } from '../engine/data/image-folder.js';
import type { TestMetrics } from '../engine/evaluate/metrics.js';
import { selectionOf } from '../engine/facts/gather-facts.js';
import type { Preprocessing } from '../engine/data/preprocess.js';
import type { BatchSource } from '../engine/train/train-stage.js';
import { inferenceBatch } from '../plan/memory-estimate.js';
import type { Plan } from '../plan/types.js';
import type { BackendName, PipelineSpec } from '../format/types.js';
import { fileModelHandler } from '../store/model-files.js';
import { readRunJson } from './run-files.js';

export type EvaluateOutcome = { ok: true; on: string; classNames: string[]; metrics: TestMetrics } | { ok: false; message: string; hint?: string };

/**
 * `tlpipe evaluate`: the run's exported model on its own test split (the
 * dataset as the run resolved it, split with the run's seed), or on a
 * folder of labelled images whose class folders are among the run's classes.
 */
export async function evaluateRun(runDir: string, options: { data?: string; backend: BackendName }): Promise<EvaluateOutcome> {
  try {
    const classNames = await readRunJson<string[]>(runDir, 'model/labels.json');
    const pre = await readRunJson<Preprocessing>(runDir, 'model/preprocessing.json');
    const plan = await readRunJson<Pick<Plan, 'loss' | 'base'>>(runDir, 'plan.json');
    await selectBackend(options.backend);
    let source: BatchSource;
    let names: string[];
    let on: string;
    if (options.data) {
      // One class folder is enough to measure how a model does on that class.
      const listing = await listImageFolder(options.data, [], undefined, 1);
      const labels = Int32Array.from(listing.labels, (label) => {
        const name = listing.classNames[label]!;
        const index = classNames.indexOf(name);
        if (index < 0) throw new UserError(`class folder \`${name}\` in ${options.data} is not one of the model's classes`, [], `the model knows: ${classNames.join(', ')}`);
        return index;
      });
      if (listing.files.length === 0) throw new UserError(`no image files in ${options.data}`, [], 'an image folder has one sub-folder per class, named as the model\'s classes');
      source = imageFileSource(listing.files, labels, pre, classNames.length);
      names = listing.files.map((f) => path.relative(options.data!, f));
      on = `${options.data} (${listing.files.length} images)`;
    } else {
      const spec = await readRunJson<PipelineSpec>(runDir, 'resolved.json');
      const dataset = await readDataset(spec.dataset);
      const selection = selectionOf(spec, dataset);
      if (selection.test.length === 0) throw new UserError('the run has no test split', [], 'pass --data <folder> with labelled images');
      const split = splitSource(dataset, 'test');
      source = exampleSource(split, selection.test, pre, classNames.length);
      names = selection.test.map((i) => split.name(i));
      on = `its test split (${selection.test.length} examples)`;
    }
    const exported = await tf.loadLayersModel(fileModelHandler(path.join(runDir, 'model')));
    // Batch norm folded, as the run computed its features: the same numbers as summary.json.
    const model = await foldBatchNorm(exported);
    try {
      return { ok: true, on, classNames, metrics: await evaluateExamples(model, source, plan.loss, classNames, names, inferenceBatch(plan.base.layers)) };
    } finally {
      if (model !== exported) model.dispose();
      exported.dispose();
    }
  } catch (error) {
    if (error instanceof UserError) return { ok: false, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
    throw error;
  }
}

/** The metrics as a person reads them: headline numbers, a per-class table, the confusion matrix, the worst examples. */
export function formatEvaluation(metrics: TestMetrics, classNames: string[]): string {
  const pct = (v: number): string => v.toFixed(4);
  const topK = Object.entries(metrics.topK).filter(([k]) => k !== 'top1').map(([k, v]) => `${k.replace('top', 'top-')} ${pct(v)}`).join('  ');
  const width = Math.max(5, ...classNames.map((n) => n.length));
  const perClass = classNames.map((name) => {
    const m = metrics.perClass[name]!;
    return `  ${name.padEnd(width)}  ${pct(m.precision)}     ${pct(m.recall)}  ${pct(m.f1)}  ${String(m.support).padStart(7)}`;
  });
  const cell = Math.max(4, ...metrics.confusionMatrix.flat().map((v) => String(v).length));
  const matrix = metrics.confusionMatrix.map((row, i) => `  ${classNames[i]!.padEnd(width)}  ${row.map((v) => String(v).padStart(cell)).join(' ')}`);
  return [
    `accuracy ${pct(metrics.accuracy)}  loss ${pct(metrics.loss)}  ${topK}  (${metrics.examples} examples)`,
    '',
    `  ${'class'.padEnd(width)}  precision  recall  f1      support`,
    ...perClass,
    '',
    `confusion matrix (rows: actual, columns: predicted in the same order)`,
    ...matrix,
    '',
    `most wrong (lowest probability of the true class):`,
    ...metrics.worst.slice(0, 10).map((w) => `  ${w.example}: ${w.actual} → ${w.predicted} (p(actual) ${w.probabilityOfActual.toFixed(3)})`),
  ].join('\n');
}
