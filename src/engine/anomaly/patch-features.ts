import tf from '../tfjs.cjs';
import type { KeyPath } from '../../diagnostics/diagnostic.js';
import { closestMatches } from '../../diagnostics/did-you-mean.js';
import { UserError } from '../../diagnostics/user-error.js';
import type { PixelBatch } from '../data/dataset-types.js';
import { imageBatch, type ImagePreprocessing } from '../data/preprocess.js';
import { buildCutBase } from '../model/build-models.js';
import { cutTopology, layerNames } from '../model/model-topology.js';
import type { ModelArtifacts } from '../model/zoo.js';
import { throwIfAborted } from '../errors.js';
import { SeededRandom } from '../random.js';

/**
 * PatchCore's locally aware patch features (Roth et al. 2022; anomalib's
 * `PatchcoreModel.generate_embedding`): the frozen base's feature maps at a
 * few intermediate layers, each averaged over a 3×3 neighbourhood (a patch
 * sees its surroundings, so a small shift of the object is not an anomaly),
 * resized to the finest grid among them (anomalib resizes to its first
 * layer's, which is the finest there) and concatenated per position. Mid-level
 * layers are used because the deepest ones are biased towards the classes
 * the base was trained on and too coarse to place an anomaly.
 */
export interface PatchFeatureSettings {
  /** Base layers whose outputs form the patches, any order. */
  layers: string[];
  /** Side of the local average (PatchCore's patch size); 1 turns it off. */
  neighbourhood: number;
  /** Reduce each patch to this many dimensions by a seeded Gaussian random projection; absent keeps them all. */
  projectTo?: number;
  /** Seeds the projection: the same seed gives the same features, so a saved bank can be scored again. */
  seed: number;
}

export interface PatchFeatureExtractor {
  settings: PatchFeatureSettings;
  preprocessing: ImagePreprocessing;
  /** The patch grid [height, width]: the finest grid among the layers. */
  grid: [number, number];
  /** Channels concatenated over the layers, before the projection. */
  depth: number;
  /** Dimensions of a patch as scored: `projectTo` when set, else `depth`. */
  dim: number;
  /** The base cut at the deepest patch layer, one output per layer: what a model folder saves. */
  model: tf.LayersModel;
  /** Runs the base on preprocessed images: [n, h, w, 3] → [n × grid cells, dim], image by image, row by row. */
  patches(images: tf.Tensor4D): tf.Tensor2D;
  /** The same extractor on another copy of its model (one loaded back from a model folder); disposing it leaves that model alone. */
  withModel(model: tf.LayersModel): PatchFeatureExtractor;
  dispose(): void;
}

/** Where the layer names come from in a pipeline; the message points there. */
const LAYERS_KEY: KeyPath = ['anomaly', 'layers'];

/**
 * The base cut just above the deepest of the named layers, with one output
 * per named layer. Keras lists a functional model's layers in topological
 * order, so the last named one is the cut; a named layer the cut does not
 * reach (a side branch) is refused rather than silently dropped.
 */
async function multiOutputBase(
  artifacts: ModelArtifacts,
  layers: string[],
  input: number[],
): Promise<{ model: tf.LayersModel; base: tf.LayersModel }> {
  const names = layerNames(artifacts.modelTopology);
  for (const layer of layers) {
    if (!names.includes(layer)) {
      const near = closestMatches(layer, names, 3);
      throw new UserError(
        `the base has no layer named \`${layer}\``,
        LAYERS_KEY,
        near.length > 0 ? `nearest layer names: ${near.join(', ')}` : undefined,
      );
    }
  }
  if (layers.length === 0) throw new UserError('no layers are named for the patch features', LAYERS_KEY);
  const cut = [...layers].sort((a, b) => names.indexOf(a) - names.indexOf(b)).at(-1)!;
  const topology = cutTopology(artifacts.modelTopology, cut, input)!;
  const kept = new Set(layerNames(topology));
  const unreached = layers.filter((layer) => !kept.has(layer));
  if (unreached.length > 0)
    throw new UserError(
      `\`${unreached.join('`, `')}\` does not feed \`${cut}\`, so it is not computed with it`,
      LAYERS_KEY,
      'name layers on the main path of the base',
    );
  const base = await buildCutBase(artifacts, topology);
  const outputs = layers.map((layer) => base.getLayer(layer).output as tf.SymbolicTensor);
  return { model: tf.model({ inputs: base.inputs, outputs, name: 'patch_features' }), base };
}

/** A dense [depth, dim] matrix of N(0, 1/dim) entries (Box–Muller on the seeded stream): distances are kept in expectation. */
export function gaussianProjection(
  depth: number,
  dim: number,
  seed: number,
  purpose = 'patch-projection',
): Float32Array {
  const random = new SeededRandom(seed).fork(purpose);
  const matrix = new Float32Array(depth * dim);
  const scale = 1 / Math.sqrt(dim);
  for (let i = 0; i < matrix.length; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - random.next()));
    const angle = 2 * Math.PI * random.next();
    matrix[i] = radius * Math.cos(angle) * scale;
    if (i + 1 < matrix.length) matrix[i + 1] = radius * Math.sin(angle) * scale;
  }
  return matrix;
}

/**
 * The extractor for `settings` on the base `artifacts` at the run's
 * preprocessing (its image size is the base's input size). Throws a
 * UserError for a layer the base lacks or an image size at which a layer's
 * map is empty.
 */
export async function buildPatchExtractor(
  artifacts: ModelArtifacts,
  settings: PatchFeatureSettings,
  preprocessing: ImagePreprocessing,
): Promise<PatchFeatureExtractor> {
  const input = [...preprocessing.inputSize, preprocessing.channels];
  const { model, base } = await multiOutputBase(artifacts, settings.layers, input);
  const shapes = model.outputs.map((output) => output.shape.slice(1) as number[]);
  const empty = shapes.findIndex((shape) => shape.some((d) => !(d > 0)));
  if (empty >= 0) {
    base.dispose();
    throw new UserError(
      `at ${preprocessing.inputSize.join('×')} the base's output at \`${settings.layers[empty]}\` has shape [${shapes[empty]!.join(', ')}]`,
      ['dataset', 'image', 'size'],
      'use larger images or name lower layers',
    );
  }
  return extractorOf(model, settings, preprocessing, () => base.dispose());
}

/**
 * The extractor around a multi-output `model` (one output per patch layer,
 * in `settings.layers` order): the one built from the base, or the same
 * model loaded back from a model folder. `release` frees what the model
 * came with.
 */
export function extractorOf(
  model: tf.LayersModel,
  settings: PatchFeatureSettings,
  preprocessing: ImagePreprocessing,
  release: () => void = () => model.dispose(),
): PatchFeatureExtractor {
  const shapes = model.outputs.map((output) => output.shape.slice(1) as number[]);
  const finest = shapes.reduce((a, b) => (b[0]! * b[1]! > a[0]! * a[1]! ? b : a));
  const grid: [number, number] = [finest[0]!, finest[1]!];
  const depth = shapes.reduce((sum, shape) => sum + shape[2]!, 0);
  const projection =
    settings.projectTo !== undefined && settings.projectTo < depth
      ? tf.tensor2d(gaussianProjection(depth, settings.projectTo, settings.seed), [depth, settings.projectTo])
      : undefined;
  const k = settings.neighbourhood;
  return {
    settings,
    preprocessing,
    grid,
    depth,
    dim: projection ? projection.shape[1] : depth,
    model,
    patches: (images) =>
      tf.tidy(() => {
        const outputs = model.predict(images) as tf.Tensor4D | tf.Tensor4D[];
        const maps = (Array.isArray(outputs) ? outputs : [outputs]).map((map) => {
          // tfjs's `same` average leaves the padding out of the count, so a border patch is not darkened.
          const local = k > 1 ? tf.avgPool(map, k, 1, 'same') : map;
          const [, h, w] = local.shape;
          return h === grid[0] && w === grid[1] ? local : tf.image.resizeBilinear(local, grid);
        });
        const joined = (maps.length === 1 ? maps[0]! : tf.concat(maps, 3)).reshape([-1, depth]) as tf.Tensor2D;
        return projection ? tf.matMul(joined, projection) : joined;
      }),
    withModel: (other) => extractorOf(other, settings, preprocessing, () => undefined),
    dispose: () => {
      projection?.dispose();
      release();
    },
  };
}

/** Rows `from`–`to` of a pixel batch, without copying. */
function slicePixels(batch: PixelBatch, from: number, to: number): PixelBatch {
  const size = batch.height * batch.width * batch.channels;
  return { ...batch, data: batch.data.subarray(from * size, to * size), count: to - from };
}

/**
 * The patches of a batch of raw pixels, preprocessed exactly as the run
 * preprocesses its inputs, `batchSize` images at a time: a Float32Array
 * [count × grid cells, dim], image by image, row by row.
 */
export async function patchesOfPixels(
  extractor: PatchFeatureExtractor,
  pixels: PixelBatch,
  options: { batchSize?: number; signal?: AbortSignal } = {},
): Promise<Float32Array> {
  const batchSize = options.batchSize ?? 32;
  const cells = extractor.grid[0] * extractor.grid[1];
  const out = new Float32Array(pixels.count * cells * extractor.dim);
  for (let from = 0; from < pixels.count; from += batchSize) {
    throwIfAborted(options.signal);
    const to = Math.min(pixels.count, from + batchSize);
    const patches = tf.tidy(() =>
      extractor.patches(imageBatch(slicePixels(pixels, from, to), extractor.preprocessing)),
    );
    try {
      out.set(await patches.data(), from * cells * extractor.dim);
    } finally {
      patches.dispose();
    }
  }
  return out;
}
