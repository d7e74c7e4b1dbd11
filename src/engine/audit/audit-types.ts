import type { ClassBalance, ConfusedPair } from './class-balance.js';
import type { DomainShift } from './domain-shift.js';
import type { ClassStatistics, StatisticOutlier } from './image-statistics.js';

/** Below this out-of-fold accuracy the features separate the classes poorly, and many flags are the classifier's mistakes. */
export const WEAK_FEATURES = 0.9;

export type AuditSplit = 'train' | 'validation' | 'test';

/** One example as the audit names it: its split, its index in the split's source, what reports call it, its given label. */
export interface ExampleRef {
  split: AuditSplit;
  index: number;
  name: string;
  label: number;
}

/** A likely label error: the given label, the class the data says instead, how sure. */
export interface LabelIssueFinding extends ExampleRef {
  suggested: number;
  /** Out-of-fold probability of the given label. */
  selfConfidence: number;
  /** Best other class's probability minus the given label's: the rank. */
  margin: number;
}

/** Two examples that are the same image (exact: identical pixels) or nearly (cosine similarity of their features). */
export interface PairFinding {
  kind: 'leak' | 'duplicate';
  a: ExampleRef;
  b: ExampleRef;
  /** Cosine similarity of their features. */
  similarity: number;
  exact: boolean;
  /** When their pixels, aligned, show the same picture: how far apart (0 the same; see pixel-match). */
  pixelDistance?: number;
}

export interface AuditSettings {
  folds: number;
  /** Cosine similarity at or above which two examples are near-duplicates. */
  threshold: number;
  seed: number;
}

/** What `tlpipe audit` finds in a pipeline's data: audit.json (bounded lists) and audit.html are made from it. */
export interface AuditResult {
  classes: string[];
  examples: Record<AuditSplit, number>;
  /** The features audited: one example's shape as the base gives it, and the values per example compared. */
  features: { shape: number[]; width: number };
  settings: AuditSettings;
  /** The accuracy of the out-of-fold predictions the label audit rests on: below WEAK_FEATURES its flags mean less (the report says so). */
  outOfFoldAccuracy: number;
  /** outOfFoldAccuracy is below WEAK_FEATURES. */
  weakFeatures?: boolean;
  labelIssues: {
    /** How many examples are flagged in all; `shown` is the surest of them. */
    total: number;
    thresholds: number[];
    confidentJoint: number[][];
    shown: LabelIssueFinding[];
  };
  duplicates: {
    /** Pairs across splits (test or validation images also in train, test in validation), most similar first. */
    leaks: PairFinding[];
    /** Pairs within one split. */
    within: PairFinding[];
    /** Counts in all (the lists are bounded): exact and near, across and within splits. */
    counts: { exactLeaks: number; nearLeaks: number; exactWithin: number; nearWithin: number };
  };
  balance: ClassBalance & { perSplit: Record<AuditSplit, number[]> };
  confusion: { matrix: number[][]; hardPairs: ConfusedPair[] };
  /** Absent without a test split, or with too few examples on either side. */
  shift?: DomainShift;
  imageStatistics: {
    perClass: ClassStatistics[];
    outliers: StatisticOutlier[];
    /** Each split's mean brightness and contrast: a test split shot differently shows here and in the shift. */
    perSplit?: Partial<Record<AuditSplit, ClassStatistics>>;
  };
  seconds: number;
}

/** An example's thumbnail (PNG) as the model sees the image. */
export interface ExampleThumbnail {
  split: AuditSplit;
  index: number;
  png: Uint8Array;
}

/** The audit and the thumbnails its reports show. */
export interface AuditOutput {
  result: AuditResult;
  thumbnails: ExampleThumbnail[];
}
