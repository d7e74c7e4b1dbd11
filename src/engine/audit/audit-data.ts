import { createHash } from 'node:crypto';
import { splitSource } from '../data/datasets.js';
import type { PixelBatch } from '../data/dataset-types.js';
import type { RunInputs } from '../facts/gather-facts.js';
import { inputImages } from '../evaluate/explain-images.js';
import { thumbnailPng } from '../evaluate/heatmap-image.js';
import { planFeatures, type PlanFeaturesOptions, type SplitFeatures } from '../run/plan-features.js';
import { RunInterrupted } from '../errors.js';
import type { Plan } from '../../plan/types.js';
import { UserError } from '../../diagnostics/user-error.js';
import { classBalance, confusedPairs, confusionOf } from './class-balance.js';
import { confidentLearning } from './confident-learning.js';
import { domainShift } from './domain-shift.js';
import { classStatistics, imageStatistic, statisticOutliers, type ImageStatistic } from './image-statistics.js';
import { FIT_DEFAULTS, outOfFold, type Rows } from './logistic-regression.js';
import { blend, nearestVote } from './nearest-vote.js';
import { exactPairs, l2Normalised, MAX_PAIRS, nearestNeighbours, similarPairs } from './near-duplicates.js';
import {
  alignedDistance,
  LARGE_DATASET,
  PIXEL_MATCH,
  pixelSignature,
  SIGNATURE_SIDE,
  signatureRows,
  type Signature,
} from './pixel-match.js';
import {
  WEAK_FEATURES,
  type AuditOutput,
  type AuditResult,
  type AuditSettings,
  type AuditSplit,
  type ExampleRef,
  type ExampleThumbnail,
  type LabelIssueFinding,
  type PairFinding,
} from './audit-types.js';

export const AUDIT_DEFAULTS = { folds: 5, threshold: 0.995 } as const;
/** Each example's nearest neighbours, by features and by blurred pixels, whose pixels are compared aligned: where moved and recompressed copies are found. */
/**
 * The label audit's probabilities: this share from the regression, the rest
 * from the nearest-neighbour vote. Measured on planted flips (see
 * confident-learning.ts): either alone missed look-alike flips the blend finds.
 */
const REGRESSION_WEIGHT = 0.5;
const NEIGHBOURS_CHECKED = { features: 3, pixels: 5 };
/** Fewer feature values than this (a pooled early cut), and the audit reads the maps before the pooling. */
const FEW_FEATURES = 256;
/** More values than this in a map, and the audit averages it over its positions. */
const MANY_FEATURES = 4096;
/** Label issues audit.json lists at most (the count says how many in all). */
const ISSUES_LISTED = 200;
/** Examples shown as thumbnails at most, per list: a report stays a page. */
const THUMBNAILS_PER_LIST = 40;
/** Images decoded at once for digests and statistics. */
const PIXEL_CHUNK = 256;

const SPLITS: readonly AuditSplit[] = ['train', 'validation', 'test'];
/** Which splits leak into which: the first of each pair is held out, the second is what trained on (or chose by) it. */
const LEAKS: readonly [AuditSplit, AuditSplit][] = [
  ['test', 'train'],
  ['test', 'validation'],
  ['validation', 'train'],
];

/** One split as the audit reads it: its features, labels, and each image's digest and statistics. */
interface AuditedSplit {
  split: AuditSplit;
  indexes: readonly number[];
  labels: number[];
  names: string[];
  features: SplitFeatures;
  digests: string[];
  statistics: ImageStatistic[];
  signatures: Signature[];
}

/**
 * The data audit of a classification pipeline (see AuditResult): on the
 * features its own features task makes (from the stage cache when a run or
 * an audit made them) and out-of-fold predictions of a simple classifier
 * on them, plus a pass over the pixels for exact copies and image
 * statistics.
 */
export async function auditData(
  plan: Plan,
  inputs: RunInputs,
  settings: Partial<Omit<AuditSettings, 'seed'>>,
  options: PlanFeaturesOptions,
): Promise<AuditOutput> {
  const started = performance.now();
  if (inputs.dataset.input.kind !== 'image')
    throw new UserError('the audit reads images; this dataset is rows of feature columns', ['dataset']);
  const full: AuditSettings = {
    folds: settings.folds ?? AUDIT_DEFAULTS.folds,
    threshold: settings.threshold ?? AUDIT_DEFAULTS.threshold,
    seed: plan.seed,
  };
  const features = auditedRows(await planFeatures(plan, inputs, options, { unfolded: pooledTooFar(plan) }));
  const splits: AuditedSplit[] = [];
  for (const split of SPLITS) {
    const rows = features[split];
    if (!rows || rows.count === 0) continue;
    splits.push(await readSplit(inputs, split, rows, options.signal));
  }
  const classes = plan.classes.names;
  const k = classes.length;
  const pooled = poolRows(splits);
  const labels = splits.flatMap((s) => s.labels);
  const refs = splits.flatMap((s) => s.indexes.map((index, i) => ref(s, i)));
  const folds = Math.max(2, Math.min(full.folds, labels.length));
  const probabilities = blend(
    outOfFold(pooled, labels, k, folds, { ...FIT_DEFAULTS, seed: full.seed }),
    nearestVote(pooled, labels, k),
    REGRESSION_WEIGHT,
  );
  const learning = confidentLearning(probabilities, labels, k);
  const matrix = confusionOf(probabilities, labels, k);
  const correct = matrix.reduce((sum, row, i) => sum + row[i]!, 0);
  const issues: LabelIssueFinding[] = learning.issues.slice(0, ISSUES_LISTED).map((issue) => ({
    ...refs[issue.index]!,
    suggested: issue.suggested,
    selfConfidence: issue.selfConfidence,
    margin: issue.margin,
  }));
  const duplicates = findDuplicates(splits, full.threshold);
  const byName = (s: AuditSplit): AuditedSplit | undefined => splits.find((x) => x.split === s);
  const test = byName('test');
  const trained = splits.filter((s) => s.split !== 'test');
  const shift =
    test && trained.length > 0
      ? domainShift(poolRows(trained), test.features, full.folds, { ...FIT_DEFAULTS, seed: full.seed })
      : undefined;
  const statistics = splits.flatMap((s) => s.statistics);
  const balance = classBalance(labels, k);
  const result: AuditResult = {
    classes,
    examples: Object.fromEntries(SPLITS.map((s) => [s, byName(s)?.indexes.length ?? 0])) as Record<AuditSplit, number>,
    features: { shape: splits[0]?.features.shape ?? [], width: pooled.width },
    settings: full,
    outOfFoldAccuracy: labels.length > 0 ? correct / labels.length : 0,
    weakFeatures: labels.length > 0 && correct / labels.length < WEAK_FEATURES,
    labelIssues: {
      total: learning.issues.length,
      thresholds: learning.thresholds,
      confidentJoint: learning.confidentJoint,
      shown: issues,
    },
    duplicates,
    balance: {
      ...balance,
      perSplit: Object.fromEntries(SPLITS.map((s) => [s, classBalance(byName(s)?.labels ?? [], k).counts])) as Record<
        AuditSplit,
        number[]
      >,
    },
    confusion: { matrix, hardPairs: confusedPairs(matrix) },
    ...(shift ? { shift } : {}),
    imageStatistics: {
      perSplit: Object.fromEntries(
        splits.map((s) => [
          s.split,
          classStatistics(
            s.statistics,
            s.labels.map(() => 0),
            1,
          )[0]!,
        ]),
      ),
      perClass: classStatistics(statistics, labels, k),
      outliers: statisticOutliers(statistics, labels, k),
    },
    seconds: 0,
  };
  const thumbnails = await thumbnailsOf(inputs, [
    ...issues.slice(0, THUMBNAILS_PER_LIST),
    ...duplicates.leaks.slice(0, THUMBNAILS_PER_LIST).flatMap((p) => [p.a, p.b]),
    ...duplicates.within.slice(0, THUMBNAILS_PER_LIST).flatMap((p) => [p.a, p.b]),
  ]);
  result.seconds = (performance.now() - started) / 1000;
  return { result, thumbnails };
}

function ref(s: AuditedSplit, i: number): ExampleRef {
  return { split: s.split, index: s.indexes[i]!, name: s.names[i]!, label: s.labels[i]! };
}

/** Labels, names, pixel digests and statistics of one split's selected examples, a chunk of images at a time. */
async function readSplit(
  inputs: RunInputs,
  split: AuditSplit,
  features: SplitFeatures,
  signal?: AbortSignal,
): Promise<AuditedSplit> {
  const source = splitSource(inputs.dataset, split);
  const indexes = inputs.selection[split];
  const digests: string[] = [];
  const statistics: ImageStatistic[] = [];
  const signatures: Signature[] = [];
  const examples = inputs.selection.train.length + inputs.selection.validation.length + inputs.selection.test.length;
  const side = examples > LARGE_DATASET ? SIGNATURE_SIDE / 2 : SIGNATURE_SIDE;
  for (let start = 0; start < indexes.length; start += PIXEL_CHUNK) {
    if (signal?.aborted) throw new RunInterrupted();
    const batch = await source.pixels(indexes.slice(start, start + PIXEL_CHUNK));
    for (const pixels of imagesOf(batch)) {
      digests.push(
        createHash('sha256').update(`${batch.height}x${batch.width}x${batch.channels}:`).update(pixels).digest('hex'),
      );
      statistics.push(imageStatistic(pixels));
      signatures.push(pixelSignature(pixels, batch.height, batch.width, batch.channels, side));
    }
  }
  return {
    split,
    indexes,
    labels: indexes.map((i) => source.labels[i]!),
    names: indexes.map((i) => source.name(i)),
    features,
    digests,
    statistics,
    signatures,
  };
}

function imagesOf(batch: PixelBatch): Uint8Array[] {
  const size = batch.height * batch.width * batch.channels;
  return Array.from({ length: batch.count }, (_, i) => batch.data.subarray(i * size, (i + 1) * size));
}

/** The splits' feature rows, one after another. */
function poolRows(splits: readonly AuditedSplit[]): Rows {
  const width = splits[0]?.features.width ?? 0;
  const count = splits.reduce((n, s) => n + s.features.count, 0);
  const data = new Float32Array(count * width);
  let at = 0;
  for (const s of splits) {
    data.set(s.features.data.subarray(0, s.features.count * width), at);
    at += s.features.count * width;
  }
  return { data, count, width };
}

/**
 * Exact copies (identical pixels, every one found), the same picture
 * shifted or recompressed (each example's nearest neighbours by features,
 * confirmed by their aligned pixels) and near-duplicates by features alone
 * (cosine similarity at or above `threshold`), across splits first, then
 * within each split; bounded.
 */
function findDuplicates(splits: readonly AuditedSplit[], threshold: number): AuditResult['duplicates'] {
  // Centred first: features of one base share a large common part, which makes every pair look alike.
  const mean = meanRow(splits);
  const normalised = new Map(splits.map((s) => [s.split, l2Normalised(centred(s.features, mean))]));
  const pixelRows = new Map(splits.map((s) => [s.split, signatureRows(s.signatures)]));
  const counts = { exactLeaks: 0, nearLeaks: 0, exactWithin: 0, nearWithin: 0 };
  const collect = (a: AuditedSplit, b: AuditedSplit | undefined, kind: PairFinding['kind']): PairFinding[] => {
    const other = b ?? a;
    const found = new Map<string, PairFinding>();
    const add = (i: number, j: number, similarity: number, exact: boolean, pixelDistance?: number): void => {
      // Within a split each pair once, the earlier example first.
      const [x, y] = !b && j < i ? [j, i] : [i, j];
      const key = `${x}:${y}`;
      const seen = found.get(key);
      if (seen) {
        seen.exact ||= exact;
        if (pixelDistance !== undefined) seen.pixelDistance = pixelDistance;
      } else
        found.set(key, {
          kind,
          a: ref(a, x),
          b: ref(other, y),
          similarity,
          exact,
          ...(pixelDistance !== undefined ? { pixelDistance } : {}),
        });
    };
    const rowsA = normalised.get(a.split)!;
    const rowsB = b && normalised.get(b.split)!;
    for (const p of exactPairs(a.digests, b?.digests)) add(p.a, p.b, 1, true);
    for (const p of similarPairs(rowsA, rowsB, threshold)) add(p.a, p.b, p.similarity, false);
    const candidates = [
      ...nearestNeighbours(rowsA, rowsB, NEIGHBOURS_CHECKED.features),
      ...nearestNeighbours(pixelRows.get(a.split)!, b && pixelRows.get(b.split)!, NEIGHBOURS_CHECKED.pixels),
    ];
    const checked = new Set<string>();
    for (const p of candidates) {
      const key = `${p.a}:${p.b}`;
      if (checked.has(key)) continue;
      checked.add(key);
      const distance = alignedDistance(a.signatures[p.a]!, other.signatures[p.b]!);
      if (distance <= PIXEL_MATCH) add(p.a, p.b, cosine(rowsA, rowsB ?? rowsA, p.a, p.b), false, distance);
    }
    const pairs = [...found.values()];
    const exact = pairs.filter((p) => p.exact).length;
    if (kind === 'leak') {
      counts.exactLeaks += exact;
      counts.nearLeaks += pairs.length - exact;
    } else {
      counts.exactWithin += exact;
      counts.nearWithin += pairs.length - exact;
    }
    return pairs;
  };
  const bySplit = (s: AuditSplit): AuditedSplit | undefined => splits.find((x) => x.split === s);
  const leaks: PairFinding[] = [];
  for (const [held, seen] of LEAKS) {
    const a = bySplit(held);
    const b = bySplit(seen);
    if (a && b) leaks.push(...collect(a, b, 'leak'));
  }
  const within = splits.flatMap((s) => collect(s, undefined, 'duplicate'));
  const order = (x: PairFinding, y: PairFinding): number =>
    Number(y.exact) - Number(x.exact) ||
    (x.pixelDistance ?? Number.POSITIVE_INFINITY) - (y.pixelDistance ?? Number.POSITIVE_INFINITY) ||
    y.similarity - x.similarity;
  return { leaks: leaks.sort(order).slice(0, MAX_PAIRS), within: within.sort(order).slice(0, MAX_PAIRS), counts };
}

/**
 * Whether the plan's features are too few values to tell classes apart
 * (a head that pools an early cut's maps: 24 values at block_2_add), while
 * the maps before its pooling are not: the audit then reads the maps.
 */
function pooledTooFar(plan: Plan): boolean {
  const width = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
  return (
    plan.features.headLayersApplied > 0 &&
    width(plan.features.shape) < FEW_FEATURES &&
    width(plan.base.cutOutputShape) > width(plan.features.shape)
  );
}

/** Feature maps of more than MANY_FEATURES values averaged over their positions (one value per channel); fewer are kept whole. */
function auditedRows(features: Partial<Record<AuditSplit, SplitFeatures>>): Partial<Record<AuditSplit, SplitFeatures>> {
  const out: Partial<Record<AuditSplit, SplitFeatures>> = {};
  for (const [split, f] of Object.entries(features) as [AuditSplit, SplitFeatures][]) {
    if (f.width <= MANY_FEATURES || f.shape.length !== 3) {
      out[split] = f;
      continue;
    }
    const channels = f.shape[2]!;
    const positions = f.width / channels;
    const data = new Float32Array(f.count * channels);
    for (let r = 0; r < f.count; r++)
      for (let p = 0; p < positions; p++)
        for (let c = 0; c < channels; c++)
          data[r * channels + c]! += f.data[r * f.width + p * channels + c]! / positions;
    out[split] = { data, count: f.count, width: channels, shape: [channels] };
  }
  return out;
}

/** The mean of every split's feature rows. */
function meanRow(splits: readonly AuditedSplit[]): Float32Array {
  const width = splits[0]?.features.width ?? 0;
  const mean = new Float32Array(width);
  let count = 0;
  for (const { features } of splits) {
    for (let r = 0; r < features.count; r++) for (let c = 0; c < width; c++) mean[c]! += features.data[r * width + c]!;
    count += features.count;
  }
  return mean.map((v) => v / Math.max(1, count));
}

function centred(rows: Rows, mean: Float32Array): Rows {
  return { ...rows, data: rows.data.map((v, i) => v - mean[i % rows.width]!) };
}

/** The cosine similarity of two L2-normalised rows. */
function cosine(a: Rows, b: Rows, i: number, j: number): number {
  let dot = 0;
  for (let c = 0; c < a.width; c++) dot += a.data[i * a.width + c]! * b.data[j * b.width + c]!;
  return Math.min(1, dot);
}

/** PNG thumbnails of the examples (each once), as the model sees them. */
async function thumbnailsOf(inputs: RunInputs, examples: readonly ExampleRef[]): Promise<ExampleThumbnail[]> {
  const out: ExampleThumbnail[] = [];
  if (inputs.preprocessing.kind !== 'image') return out;
  const pre = inputs.preprocessing;
  for (const split of SPLITS) {
    const wanted = [...new Set(examples.filter((e) => e.split === split).map((e) => e.index))];
    if (wanted.length === 0) continue;
    const batch = await splitSource(inputs.dataset, split).pixels(wanted);
    const pngs = await Promise.all(inputImages(batch, pre).map(thumbnailPng));
    wanted.forEach((index, i) => out.push({ split, index, png: pngs[i]! }));
  }
  return out;
}
