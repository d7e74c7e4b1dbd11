/** A file that is not used as an example, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

/** Pixels of some examples, row-major [count, height, width, channels], 0–255. */
export interface PixelBatch {
  data: Uint8Array;
  count: number;
  height: number;
  width: number;
  channels: 1 | 3;
}

/** Numeric rows of tabular examples, row-major [count, width]. */
export interface VectorBatch {
  data: Float32Array;
  count: number;
  width: number;
}

/** One split's examples: labels known up front, pixels (or feature rows) read on demand. */
export interface SplitData {
  count: number;
  labels: Int32Array;
  /** What to call example `index` in reports: its file, `train[123]` for IDX, `file.csv:12` for a CSV row. */
  name(index: number): string;
  pixels(indexes: readonly number[]): Promise<PixelBatch>;
  /** Tabular datasets only. */
  vectors?(indexes: readonly number[]): Promise<VectorBatch>;
}

/** What one example of a dataset is; a new kind is a compile error wherever code switches on it. */
export type ExampleInput = { kind: 'image' } | { kind: 'rows'; columns: string[] };

export interface LoadedDataset {
  /** What an example is: an image (read with `pixels`) or a row of feature columns (read with `vectors`). Switch on `input.kind` exhaustively. */
  input: ExampleInput;
  train: SplitData;
  /** A separate test split; absent when the test split is carved out of `train` (or there is none). */
  test?: SplitData;
  numClasses: number;
  /** Class names the data itself defines (image folder names). */
  classNames?: string[];
  /** sha256 over every file read, in a fixed order. */
  digest: string;
  /** Files that could not be used, with why (only with `onBadFile: skip`). */
  skipped: SkippedFile[];
  /** Files that are not examples at all: hidden files, non-images. */
  ignored: SkippedFile[];
  /** Whether pixels are held decoded in memory or decoded again per batch. */
  storage: 'memory' | 'streaming';
  /** `validation: test`: the validation examples are the test split's. */
  validationFrom?: 'test';
}
