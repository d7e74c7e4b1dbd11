import * as tf from '@tensorflow/tfjs';
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

/** Builds the head layers in order; initial weights are seeded from the pipeline's seed. */
export function buildHeadLayers(
  head: ResolvedHeadLayer[],
  seed: number,
  streams = new RandomStreams(seed),
): tf.layers.Layer[] {
  const random = new SeededRandom(seed).fork('head-init');
  return head.map((layer, i) => {
    const name = `head_${i}_${layer.type}`;
    switch (layer.type) {
      case 'globalAveragePooling2d':
        return tf.layers.globalAveragePooling2d({ name });
      case 'globalMaxPooling2d':
        return tf.layers.globalMaxPooling2d({ name });
      case 'flatten':
        return tf.layers.flatten({ name });
      case 'dropout':
        return seedDropout(tf.layers.dropout({ name, rate: layer.rate }), layer.rate, streams.get(`dropout/${name}`));
      case 'dense':
        return tf.layers.dense({
          name,
          units: layer.units,
          // 'linear' and 'swish' are tfjs's names too; relu6 etc. likewise.
          activation: layer.activation as 'linear',
          useBias: layer.useBias,
          kernelInitializer: tf.initializers.glorotUniform({ seed: random.nextSeed() }),
          biasInitializer: 'zeros',
          ...(layer.kernelRegularizer ? { kernelRegularizer: tf.regularizers.l1l2(layer.kernelRegularizer) } : {}),
        });
      case 'conv2d':
        return tf.layers.conv2d({
          name,
          filters: layer.filters,
          kernelSize: layer.kernelSize,
          strides: layer.strides,
          padding: layer.padding,
          activation: layer.activation as 'linear',
          kernelInitializer: tf.initializers.glorotUniform({ seed: random.nextSeed() }),
          ...(layer.kernelRegularizer ? { kernelRegularizer: tf.regularizers.l1l2(layer.kernelRegularizer) } : {}),
        });
      case 'maxPooling2d':
        return tf.layers.maxPooling2d({
          name,
          poolSize: layer.poolSize,
          strides: layer.strides,
          padding: layer.padding,
        });
      case 'batchNormalization':
        return tf.layers.batchNormalization({ name });
      case 'activation':
        return tf.layers.activation({ name, activation: layer.activation as 'linear' });
      case 'reshape':
        return tf.layers.reshape({ name, targetShape: layer.targetShape });
    }
  });
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
    return tf.dropout(input, rate, undefined, random.nextSeed());
  };
  return layer;
}

/** The head on its own, taking the base's features: what is trained when the base is frozen. */
export function buildHeadModel(layers: tf.layers.Layer[], featureShape: number[]): tf.LayersModel {
  const input = tf.input({ shape: featureShape, name: 'features' });
  let x: tf.SymbolicTensor = input;
  for (const layer of layers) x = layer.apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: 'head' });
}

/**
 * Base and head as one flat model for export. The head layers are the same
 * objects as in the head model, so they share its trained weights.
 */
export function composeModel(base: tf.LayersModel, layers: tf.layers.Layer[], name: string): tf.LayersModel {
  let x = base.outputs[0]!;
  for (const layer of layers) x = layer.apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: base.inputs, outputs: x, name });
}
