import tf from '../tfjs.cjs';
import type { HeadLayerEntry, KerasLayer } from '../../format/head-layers/entry.js';
import { headLayerEntry } from '../../format/head-layers/registry.js';
import type { ResolvedHeadLayer } from '../../plan/types.js';
import { enforceFrozenBatchNorm } from './frozen-batch-norm.js';
import { RandomStreams, SeededRandom } from '../random.js';
import { cutTopology, type KerasTopology } from './model-topology.js';
import { setTrainableLayers } from './trainable-layers.js';
import type { ModelArtifacts } from './zoo.js';

/**
 * `base.model: none`: a pass-through "base" so that the rest of the engine
 * (features, composition, export) works unchanged; the head learns from the
 * preprocessed images themselves.
 */
export function buildPassThroughBase(inputShape: number[]): tf.LayersModel {
  const input = tf.input({ shape: inputShape, name: 'image' });
  const output = tf.layers
    .activation({ activation: 'linear', name: 'image_pass_through' })
    .apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'no_base' });
}

/**
 * Builds the pretrained base, cut and resized, with its weights, at a cut
 * already checked (engine/facts/cut-base checks the pipeline's; feature
 * workers and the strategy probe cut where the plan or the zoo says).
 */
export async function buildBase(artifacts: ModelArtifacts, cut: string, input?: number[]): Promise<tf.LayersModel> {
  const topology = cutTopology(artifacts.modelTopology, cut, input);
  if (!topology)
    throw new Error(
      `the base has no layer named ${cut}; a cut reaches here checked (engine/facts/cut-base), so this is a bug`,
    );
  return buildCutBase(artifacts, topology);
}

/**
 * The base from its cut topology, with its weights. It starts frozen (every
 * layer non-trainable, batch norm in inference mode); each stage then makes
 * trainable the layers its plan names.
 */
export async function buildCutBase(artifacts: ModelArtifacts, topology: KerasTopology): Promise<tf.LayersModel> {
  // strict: false — the weights of the dropped top have no layer to go to.
  const base = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: topology as unknown as object,
      weightSpecs: artifacts.weightSpecs,
      weightData: artifacts.weightData,
    }),
    { strict: false },
  );
  setTrainableLayers(base, 'none');
  enforceFrozenBatchNorm(base);
  return base;
}

/** The base layer a skip connection of the head reads, by the head layer that reads it. */
const skipSources = new WeakMap<tf.layers.Layer, string>();

/**
 * Builds the head layers in order from their registry entries' Keras
 * configs (an entry may yield several); initial weights are seeded from the
 * pipeline's seed, drawn in layer order.
 */
export function buildHeadLayers(
  head: ResolvedHeadLayer[],
  seed: number,
  streams = new RandomStreams(seed),
): tf.layers.Layer[] {
  const random = new SeededRandom(seed).fork('head-init');
  const nextSeed = (): number => random.nextSeed();
  return head.flatMap((layer, i) => {
    const entry = headLayerEntry(layer.type) as HeadLayerEntry<ResolvedHeadLayer>;
    return entry.keras(layer as never, { name: `head_${i}_${layer.type}`, nextSeed }).map((keras) => {
      const built = deserializeLayer(keras);
      if (keras.reads !== undefined) skipSources.set(built, keras.reads);
      if (keras.className !== 'Dropout') return built;
      const name = keras.config['name'] as string;
      return seedDropout(built, keras.config['rate'] as number, streams.get(`dropout/${name}`));
    });
  });
}

/** A layer from its Keras config, by tfjs's own registry of layer classes (initializers and regularizers likewise). */
function deserializeLayer({ className, config }: KerasLayer): tf.layers.Layer {
  const registered = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!registered)
    throw new Error(`tfjs has no layer class ${className}; a head layer entry names it, so this is a bug`);
  const [cls, fromConfig] = registered;
  return fromConfig(cls, structuredClone(config) as tf.serialization.ConfigDict) as tf.layers.Layer;
}

/** The base layers the head's skip connections read, in order. */
export function headSkips(layers: readonly tf.layers.Layer[]): string[] {
  return layers.flatMap((layer) => {
    const source = skipSources.get(layer);
    return source === undefined ? [] : [source];
  });
}

/** Applies the head layers to `x`; a skip connection also takes its base layer's output from `skip`. */
function applyHead(
  layers: readonly tf.layers.Layer[],
  x: tf.SymbolicTensor,
  skip: (name: string) => tf.SymbolicTensor,
): tf.SymbolicTensor {
  for (const layer of layers) {
    const source = skipSources.get(layer);
    x = (source === undefined ? layer.apply(x) : layer.apply([x, skip(source)])) as tf.SymbolicTensor;
  }
  return x;
}

/**
 * tfjs's Dropout draws its mask from Math.random, or — given a seed — the
 * same mask at every step. Either way a run could not be repeated. This
 * draws a fresh seed per training call from the pipeline's seeded stream.
 * Only the instance's call changes, so the model still serialises as a
 * plain Dropout layer that any tfjs loader reads.
 */
function seedDropout(layer: tf.layers.Layer, rate: number, random: SeededRandom): tf.layers.Layer {
  const target = layer as unknown as {
    call: (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;
  };
  target.call = (inputs, kwargs) => {
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    if (kwargs['training'] !== true || rate <= 0) return input;
    return tf.mul(input, dropoutMultiplier(input.shape, rate, random.nextSeed()));
  };
  return layer;
}

/**
 * tf.dropout's multiplier, ⌊u + keep⌋ / keep with keep = 1 − rate and u
 * drawn as tf.dropout draws it, computed on the host: tf.dropout's add,
 * floor and divide are three kernel calls per training step, each recorded
 * on the gradient tape with copies of its inputs, for a mask no gradient
 * flows through. The bits are tf.dropout's: each step is one float32
 * operation, and a float32 sum or quotient computed in double and rounded
 * once to float32 is the correctly rounded float32 result (53 ≥ 2·24 + 2 bits).
 */
export function dropoutMultiplier(shape: readonly number[], rate: number, seed: number): tf.Tensor {
  const keep = Math.fround(1 - rate);
  // Not read back inside tf.tidy: tidy walks what its function returns, a typed array element by element.
  const draw = tf.randomUniform([...shape], 0, 1, 'float32', seed);
  const drawn = draw.dataSync();
  draw.dispose();
  const multiplier = new Float32Array(drawn.length);
  for (let i = 0; i < drawn.length; i++) multiplier[i] = Math.floor(Math.fround(drawn[i]! + keep)) / keep;
  return tf.tensor(multiplier, [...shape], 'float32');
}

/**
 * The head on its own, taking the base's features: what is trained when the
 * base is frozen. A head with skip connections also takes each skipped base
 * layer's output as an input (`base` gives their shapes): the plan trains
 * it through the whole model, but its weights are still saved as the head's.
 */
export function buildHeadModel(
  layers: tf.layers.Layer[],
  featureShape: number[],
  base?: tf.LayersModel,
): tf.LayersModel {
  const input = tf.input({ shape: featureShape, name: 'features' });
  const skips = new Map(
    headSkips(layers).map((name) => {
      const shape = base?.getLayer(name).outputShape as number[] | undefined;
      if (!shape) throw new Error(`the head reads base layer ${name}, but no base was given to shape its input`);
      return [name, tf.input({ shape: shape.slice(1), name: `skip_${name}` })];
    }),
  );
  const output = applyHead(layers, input, (name) => skips.get(name)!);
  return tf.model({ inputs: skips.size > 0 ? [input, ...skips.values()] : input, outputs: output, name: 'head' });
}

/**
 * Base and head as one model for export: a skip connection reads its base
 * layer's output inside the base's graph. The head layers are the same
 * objects as in the head model, so they share its trained weights.
 */
export function composeModel(base: tf.LayersModel, layers: tf.layers.Layer[], name: string): tf.LayersModel {
  const output = applyHead(layers, base.outputs[0]!, (layer) => base.getLayer(layer).output as tf.SymbolicTensor);
  return tf.model({ inputs: base.inputs, outputs: output, name });
}
