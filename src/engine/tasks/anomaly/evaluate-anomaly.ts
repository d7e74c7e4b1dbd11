import type { AnomalyPlan } from '../../../plan/types.js';
import { splitSource } from '../../data/datasets.js';
import {
  auroc,
  averagePrecision,
  metricsAtThreshold,
  scoreHistograms,
  type ScoreHistograms,
  type ThresholdMetrics,
} from '../../evaluate/anomaly-metrics.js';
import type { RunContextBase } from './run-anomaly-plan.js';
import type { Banked } from './fit-bank.js';
import { scoreExamples } from './patch-scores.js';
import { anomalyGallery } from './anomaly-gallery.js';
import type { ExampleGallery } from '../../evaluate/example-gallery.js';
import type { SplitData } from '../../data/dataset-types.js';
import type { AnomalyScores, LoadedBank } from '../../anomaly/memory-bank.js';
import type { PatchFeatureExtractor } from '../../anomaly/patch-features.js';

/** How many misjudged test images are listed (and drawn with their heat maps in the report). */
const WORST_EXAMPLES = 12;

/** summary.json `test` for `task: anomaly`: normal vs not, over every class of the test split. */
export interface AnomalyTestMetrics {
  task: 'anomaly';
  examples: number;
  normalExamples: number;
  anomalousExamples: number;
  /** Area under the ROC curve of the scores; null when the test split lacks normal or anomalous images. */
  auroc: number | null;
  averagePrecision: number | null;
  /** At the threshold recorded with the model: anomalous when the score is above it. */
  atThreshold: ThresholdMetrics;
  f1: number;
  /** Fraction of the test images called rightly (normal or anomalous) at the threshold. */
  accuracy: number;
  /** None: nothing trains. Declared so that reading `test.loss` of any run's summary compiles (and is undefined here). */
  loss?: undefined;
  /** Per class: its images, their mean score and how many were called anomalous. */
  perClass: Record<string, { normal: boolean; examples: number; meanScore: number; flagged: number }>;
  histograms: ScoreHistograms;
  /** The images judged most wrongly: normal ones scored highest above the threshold, anomalous ones lowest below it. */
  worst: { example: string; actual: string; anomalous: boolean; score: number }[];
}

/** Scores the test split against the bank: AUROC, average precision, F1 at the threshold, histograms by class. */
export async function evaluateAnomaly(
  banked: Banked,
  run: RunContextBase,
): Promise<{ test: AnomalyTestMetrics; gallery?: ExampleGallery }> {
  const { plan, inputs, options } = run;
  const split = splitSource(inputs.dataset, 'test');
  const indexes = inputs.selection.test;
  const { test, scores } = await scoreLabelledSplit(
    { extractor: banked.extractor, bank: banked.loaded, threshold: banked.threshold.value },
    { split, indexes, classNames: plan.classes.names, normalClasses: plan.anomaly!.normalClasses },
    options.signal,
  );
  options.onEvent({
    type: 'log',
    level: 'info',
    message: `test: AUROC ${format(test.auroc)}, average precision ${format(test.averagePrecision)}, F1 ${test.f1.toFixed(4)} at threshold ${banked.threshold.value.toPrecision(4)}`,
  });
  // The images are a view of the run, not its result: if they cannot be made, the run still completes, and says so.
  try {
    const pre = inputs.preprocessing;
    if (pre.kind !== 'image') return { test };
    return {
      test,
      gallery: { worst: [], perClass: [], scored: await anomalyGallery(test, scores, split, indexes, pre) },
    };
  } catch (error) {
    options.onEvent({
      type: 'log',
      level: 'warn',
      message: `the report shows no test images: ${(error as Error).message.split('\n')[0]}`,
    });
    return { test };
  }
}

/** What scores images: the extractor of the base's patches, the bank and the threshold (of a run, or of a model folder loaded back). */
export interface AnomalyScorer {
  extractor: PatchFeatureExtractor;
  bank: LoadedBank;
  threshold: number;
}

/** Labelled images to score: a split, the examples of it, its class names in label order and the labels of the normal ones. */
export interface LabelledImages {
  split: SplitData;
  indexes: readonly number[];
  classNames: readonly string[];
  normalClasses: readonly number[];
}

/**
 * Every example of `images` scored against the bank and measured normal vs
 * not: the run's test evaluation and `tlpipe evaluate` both come here, so
 * the same model on the same examples gives the same numbers.
 */
export async function scoreLabelledSplit(
  scorer: AnomalyScorer,
  images: LabelledImages,
  signal?: AbortSignal,
): Promise<{ test: AnomalyTestMetrics; scores: AnomalyScores }> {
  const { split, indexes } = images;
  const scores = await scoreExamples(scorer.extractor, scorer.bank, split, indexes, signal);
  const test = anomalyMetrics({ normalClasses: [...images.normalClasses] }, images.classNames, {
    labels: indexes.map((i) => split.labels[i]!),
    names: indexes.map((i) => split.name(i)),
    scores: scores.imageScores,
    threshold: scorer.threshold,
  });
  return { test, scores };
}

/** The metrics from each test image's label, name and score: pure, so a test can check them by hand. */
export function anomalyMetrics(
  anomaly: Pick<AnomalyPlan, 'normalClasses'>,
  classNames: readonly string[],
  scored: { labels: readonly number[]; names: readonly string[]; scores: Float32Array; threshold: number },
): AnomalyTestMetrics {
  const anomalous = scored.labels.map((label) => !anomaly.normalClasses.includes(label));
  const labelled = { scores: scored.scores, anomalous };
  const atThreshold = metricsAtThreshold(labelled, scored.threshold);
  const perClass: AnomalyTestMetrics['perClass'] = {};
  classNames.forEach((name, label) => {
    const mine = scored.labels.flatMap((l, i) => (l === label ? [scored.scores[i]!] : []));
    perClass[name] = {
      normal: anomaly.normalClasses.includes(label),
      examples: mine.length,
      meanScore: mine.length === 0 ? 0 : mine.reduce((a, b) => a + b, 0) / mine.length,
      flagged: mine.filter((s) => s > scored.threshold).length,
    };
  });
  // How far on the wrong side of the threshold each misjudged image is.
  const wrongness = (i: number): number =>
    anomalous[i] ? scored.threshold - scored.scores[i]! : scored.scores[i]! - scored.threshold;
  const worst = scored.labels
    .map((_, i) => i)
    .filter((i) => scored.scores[i]! > scored.threshold !== anomalous[i])
    .sort((a, b) => wrongness(b) - wrongness(a))
    .slice(0, WORST_EXAMPLES)
    .map((i) => ({
      example: scored.names[i]!,
      actual: classNames[scored.labels[i]!] ?? String(scored.labels[i]),
      anomalous: anomalous[i]!,
      score: scored.scores[i]!,
    }));
  return {
    task: 'anomaly',
    examples: scored.labels.length,
    normalExamples: anomalous.filter((a) => !a).length,
    anomalousExamples: anomalous.filter((a) => a).length,
    auroc: auroc(labelled) ?? null,
    averagePrecision: averagePrecision(labelled) ?? null,
    atThreshold,
    f1: atThreshold.f1,
    accuracy:
      scored.labels.length === 0 ? 0 : (atThreshold.truePositives + atThreshold.trueNegatives) / scored.labels.length,
    perClass,
    histograms: scoreHistograms(
      scored.scores,
      scored.labels.map((l) => classNames[l] ?? String(l)),
    ),
    worst,
  };
}

const format = (value: number | null): string => (value === null ? 'n/a' : value.toFixed(4));
