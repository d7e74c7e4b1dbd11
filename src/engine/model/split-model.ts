import tf from '../tfjs.cjs';

/**
 * A model cut in two at one layer's output, both halves sharing the
 * original's layers (and so its weights): what a fine-tuning stage needs to
 * run its frozen prefix once and train only what lies above.
 */

/**
 * A layer's output as `model` computes it. A layer applied in several
 * models (the head's layers: in the head alone and in base + head) has one
 * node per application; the one in this model's graph is the one wanted.
 */
export function outputIn(model: tf.LayersModel, name: string): tf.SymbolicTensor {
  const layer = model.getLayer(name);
  const index = layer.inboundNodes.findIndex((_, k) => model.containerNodes.has(`${layer.name}_ib-${k}`));
  return layer.getOutputAt(Math.max(0, index)) as tf.SymbolicTensor;
}

/** The model from its input up to `boundary`'s output. */
export function prefixModel(model: tf.LayersModel, boundary: string): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: outputIn(model, boundary), name: `${model.name}_to_${boundary}` });
}

/**
 * The model from `boundary`'s output to its output: a new input of that
 * shape, and every layer above applied again, node by node as in `model`
 * (a layer applied twice shares its weights, as in Keras). Throws if a
 * layer above reads anything below the boundary but the boundary itself.
 */
export function suffixModel(model: tf.LayersModel, boundary: string): tf.LayersModel {
  const cut = outputIn(model, boundary);
  const input = tf.input({ shape: cut.shape.slice(1) as number[], name: `${boundary}_output` });
  const made = new Map<number, tf.SymbolicTensor>([[cut.id, input]]);
  const inModel = new Set(model.layers);
  const rebuild = (tensor: tf.SymbolicTensor): tf.SymbolicTensor => {
    const known = made.get(tensor.id);
    if (known) return known;
    const layer = tensor.sourceLayer;
    if (!inModel.has(layer) || layer.getClassName() === 'InputLayer')
      throw new Error(`the layers above ${boundary} also read ${layer.name}`);
    const node = layer.inboundNodes[tensor.nodeIndex]!;
    const inputs = node.inputTensors.map(rebuild);
    const outputs = layer.apply(inputs.length === 1 ? inputs[0]! : inputs, node.callArgs ?? {}) as
      tf.SymbolicTensor | tf.SymbolicTensor[];
    const list = Array.isArray(outputs) ? outputs : [outputs];
    node.outputTensors.forEach((t, i) => made.set(t.id, list[i]!));
    return made.get(tensor.id)!;
  };
  return tf.model({ inputs: input, outputs: model.outputs.map(rebuild), name: `${model.name}_above_${boundary}` });
}
