import tf from '../tfjs.cjs';

interface LayerJson {
  class_name: string;
  name?: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes: [string, number, number, Record<string, unknown>][][];
}
interface ModelJson {
  class_name: string;
  config: { name: string; layers: LayerJson[]; input_layers: unknown[]; output_layers: [string, number, number][] };
}

/**
 * The same function as `model`, in inference mode, with each batch
 * normalization folded into the convolution before it (W·s, b·s + β − μ·s
 * with s = γ/√(σ²+ε)): one kernel less per convolution. The activations
 * stay layers of their own: tfjs-layers runs a conv's own `relu6` as a
 * broadcast Minimum, which wasm runs far slower than the ReLU layer's
 * ClipByValue. For feature extraction only: the folded model has no batch
 * norm to train.
 */
export async function foldBatchNorm(model: tf.LayersModel): Promise<tf.LayersModel> {
  const json = model.toJSON(null, false) as unknown as ModelJson;
  if (json.class_name !== 'Model' && json.class_name !== 'Functional') return model;
  const layers = json.config.layers;
  const consumers = new Map<string, LayerJson[]>();
  for (const layer of layers)
    for (const node of layer.inbound_nodes)
      for (const [input] of node) consumers.set(input, [...(consumers.get(input) ?? []), layer]);
  const only = (name: string): LayerJson | undefined =>
    consumers.get(name)?.length === 1 && !json.config.output_layers.some(([o]) => o === name)
      ? consumers.get(name)![0]
      : undefined;

  const weights = new Map<string, tf.Tensor>(model.weights.map((w) => [w.originalName, w.read()]));
  const replaced = new Map<string, string>(); // removed layer → the layer that now produces its output
  const newWeights = new Map<string, tf.Tensor>();
  const removed = new Set<string>();
  for (const conv of layers) {
    const depthwise = conv.class_name === 'DepthwiseConv2D';
    if ((conv.class_name !== 'Conv2D' && !depthwise) || (conv.config['activation'] ?? 'linear') !== 'linear') continue;
    const bn = only(conv.config.name);
    if (!bn || bn.class_name !== 'BatchNormalization') continue;
    const axis = bn.config['axis'];
    if (!(axis === -1 || axis === 3 || (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3))))
      continue;
    const name = conv.config.name;
    const kernelName = `${name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`;
    const kernel = weights.get(kernelName);
    if (!kernel) continue;
    const bnName = bn.config.name;
    const get = (w: string): tf.Tensor | undefined => weights.get(`${bnName}/${w}`);
    const epsilon = (bn.config['epsilon'] as number | undefined) ?? 1e-3;
    const channels = kernel.shape[2]! * (depthwise ? kernel.shape[3]! : 1);
    const outChannels = depthwise ? channels : kernel.shape[3]!;
    const [foldedKernel, foldedBias] = tf.tidy((): [tf.Tensor, tf.Tensor] => {
      const gamma = get('gamma') ?? tf.ones([outChannels]);
      const beta = get('beta') ?? tf.zeros([outChannels]);
      const scale = tf.div(gamma, tf.sqrt(tf.add(get('moving_variance')!, epsilon)));
      const bias = weights.get(`${name}/bias`) ?? tf.zeros([outChannels]);
      const k = depthwise
        ? tf.mul(kernel, tf.reshape(scale, [1, 1, kernel.shape[2]!, kernel.shape[3]!]))
        : tf.mul(kernel, scale);
      return [tf.keep(k), tf.keep(tf.add(tf.mul(tf.sub(bias, get('moving_mean')!), scale), beta))];
    });
    newWeights.set(kernelName, foldedKernel);
    newWeights.set(`${name}/bias`, foldedBias);
    conv.config['use_bias'] = true;
    removed.add(bnName);
    replaced.set(bnName, name);
  }
  if (removed.size === 0) return model;
  const resolve = (name: string): string => (replaced.has(name) ? resolve(replaced.get(name)!) : name);
  const kept = layers
    .filter((l) => !removed.has(l.config.name))
    .map((l) => ({
      ...l,
      inbound_nodes: l.inbound_nodes.map((node) =>
        node.map(([input, ...rest]) => [resolve(input), ...rest] as LayerJson['inbound_nodes'][number][number]),
      ),
    }));
  const topology = {
    ...json,
    config: {
      ...json.config,
      name: `${json.config.name}_folded`,
      layers: kept,
      output_layers: json.config.output_layers.map(([o, ...rest]) => [resolve(o), ...rest]),
    },
  };
  // Every weight of the kept layers, in their order, folded where folded.
  const named: { name: string; tensor: tf.Tensor }[] = [];
  for (const layer of kept) {
    const original = model.getLayer(layer.config.name);
    const names = original.weights.map((w) => w.originalName);
    if (layer.config['use_bias'] === true && !names.includes(`${layer.config.name}/bias`))
      names.push(`${layer.config.name}/bias`);
    for (const n of names) named.push({ name: n, tensor: newWeights.get(n) ?? weights.get(n)! });
  }
  const { data, specs } = await tf.io.encodeWeights(named);
  tf.dispose([...newWeights.values()]);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: specs, weightData: data }));
}
