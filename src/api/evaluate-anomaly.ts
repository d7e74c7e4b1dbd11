import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { splitSource, type SkippedFile, type SplitData } from '../engine/data/datasets.js';
import { decodedCacheBytes, listImageFolder, readImageSplits } from '../engine/data/image-folder.js';
import type { ImagePreprocessing } from '../engine/data/preprocess.js';
import { scoreLabelledSplit } from '../engine/tasks/anomaly/evaluate-anomaly.js';
import { BANK_HEADER_FILE, type BankClasses } from '../store/memory-bank-file.js';
import { readPlan } from '../store/plan-file.js';
import { openAnomalyScorer } from './anomaly-model.js';
import { evaluationRecord, type AnomalyEvaluation, type EvaluateOptions, type Evaluation } from './evaluate.js';
import { countedOn, evaluationOutcome, namedAsShown, runDataset } from './evaluation-inputs.js';
import type { Outcome } from './types.js';

const DATA_HINT = {
  outside: 'pass --data <folder> with one sub-folder of images per class',
  other: 'pass --data <folder> with one sub-folder of images per class',
};

/** Images to score with their classes: which are normal, which the run never saw. */
interface ScoredImages {
  split: SplitData;
  indexes: readonly number[];
  classNames: string[];
  normal: string[];
  unseen: string[];
  skipped: SkippedFile[];
  on: string;
}

/**
 * An anomaly model folder scored as the run scored its test split
 * (scoreLabelledSplit, the same extractor and bank): on that split read
 * again with the run's seed, or on an image folder given with --data whose
 * class folders are normal when the run took them as normal, and anomalous
 * otherwise — a class the run never saw among them.
 */
export async function evaluateAnomalyModel(
  found: { modelDir: string; runDir?: string },
  options: EvaluateOptions,
): Promise<Outcome<Evaluation>> {
  const opened = await openAnomalyScorer(found.modelDir, options);
  try {
    const classes = opened.header.classes ?? (await runClasses(found.runDir, found.modelDir));
    const pre = opened.exported.preprocessing;
    const images = options.data
      ? await dataImages(options.data, classes, pre)
      : await testImages(found.runDir, found.modelDir, classes);
    const { test } = await scoreLabelledSplit(opened.scorer, {
      split: images.split,
      indexes: images.indexes,
      classNames: images.classNames,
      normalClasses: images.classNames.flatMap((name, label) => (images.normal.includes(name) ? [label] : [])),
    });
    const evaluation: AnomalyEvaluation = {
      task: 'anomaly',
      on: images.on,
      classNames: images.classNames,
      normal: images.normal,
      unseen: images.unseen,
      metrics: test,
    };
    return await evaluationOutcome(
      evaluation,
      evaluationRecord(evaluation),
      images.skipped,
      'cannot be decoded',
      opened.warnings,
      options.out,
    );
  } finally {
    opened.dispose();
  }
}

/**
 * The classes of a model folder exported before its header recorded them:
 * the run that holds it says them in plan.json. A copied folder of that age
 * has no run, and cannot say which classes are normal.
 */
async function runClasses(runDir: string | undefined, modelDir: string): Promise<BankClasses> {
  const plan = runDir ? await readPlan(runDir) : undefined;
  if (!plan?.anomaly)
    throw new UserError(
      `${path.join(modelDir, BANK_HEADER_FILE)} does not record which classes are normal (the folder was exported by an earlier tlpipe), and no run beside it says`,
      [],
      'evaluate the run that holds the folder, or run the pipeline again to export a folder that records them',
    );
  return { names: plan.classes.names, normal: plan.anomaly.normal };
}

/** The run's test split, every class of it, read again as the run read it. */
async function testImages(runDir: string | undefined, modelDir: string, classes: BankClasses): Promise<ScoredImages> {
  const { dataset } = await runDataset(runDir, modelDir, DATA_HINT);
  // Labels are read by position: a class folder added or removed since the run would shift them.
  if (dataset.classNames && dataset.classNames.join('\n') !== classes.names.join('\n'))
    throw new UserError(
      `the run's dataset now has the classes ${dataset.classNames.join(', ')}, but the run had ${classes.names.join(', ')}: its test split cannot be rebuilt`,
      [],
      DATA_HINT.other,
    );
  const indexes = dataset.selection.test;
  return {
    split: namedAsShown(splitSource(dataset, 'test')),
    indexes,
    classNames: classes.names,
    normal: classes.normal,
    unseen: [],
    skipped: [],
    on: `its test split (${indexes.length} images)`,
  };
}

/** An image folder, one sub-folder per class: each image decoded once first, one that cannot be is named and left out. */
async function dataImages(dir: string, classes: BankClasses, pre: ImagePreprocessing): Promise<ScoredImages> {
  // One class folder is enough: all normal, or all anomalous, still says how the model does on them.
  const listing = await listImageFolder(dir, [], undefined, 1);
  const read = await readImageSplits(
    { files: listing.files, labels: listing.labels, root: dir },
    undefined,
    ({ train }) => ({ train: [...train.keys()], validation: [], test: [] }),
    { size: pre.inputSize, fit: pre.fit, onBadFile: 'skip', cacheBytes: decodedCacheBytes() },
    [],
  );
  if (read.train.count === 0)
    throw new UserError(
      `no image in ${dir} can be decoded`,
      [],
      'an image folder has one sub-folder of images per class, named as the run’s classes',
    );
  return {
    split: namedAsShown(read.train),
    indexes: read.selection.train,
    classNames: listing.classNames,
    normal: listing.classNames.filter((name) => classes.normal.includes(name)),
    unseen: listing.classNames.filter((name) => !classes.names.includes(name)),
    skipped: read.skipped,
    on: countedOn(dir, read.train.count, read.skipped.length, 'cannot be decoded'),
  };
}
