import type { DatasetSpec, ImageSpec } from '../types.js';

/**
 * What one example is as the model receives it. Code that differs by input
 * switches on `kind` exhaustively (see `assertNever`), so a new kind of
 * input is a compile error everywhere it matters rather than a string test
 * that silently takes the image branch.
 */
export type DatasetInput = { kind: 'image'; image: ImageSpec } | { kind: 'rows'; columns: string[] };

/** The input a dataset spec feeds: rows of numeric feature columns (a tabular CSV), else images. */
export function datasetInput(dataset: DatasetSpec): DatasetInput {
  if (dataset.format === 'csv' && dataset.featureColumns !== undefined)
    return { kind: 'rows', columns: dataset.featureColumns };
  return { kind: 'image', image: dataset.image };
}

/** What the examples are called in plans, reports and messages. */
export function examplesNoun(input: DatasetInput): 'images' | 'rows' {
  switch (input.kind) {
    case 'image':
      return 'images';
    case 'rows':
      return 'rows';
    default:
      return assertNever(input);
  }
}

/** The end of an exhaustive switch: a case left out does not compile. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
