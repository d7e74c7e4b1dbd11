import { closestMatches } from '../../diagnostics/did-you-mean.js';
import type { KeyPath } from '../../diagnostics/diagnostic.js';
import { UserError } from '../../diagnostics/user-error.js';

/**
 * Keras model JSON as tfjs reads it. Converted Keras files wrap it in
 * `model_config`; models saved by tfjs do not. Functional models list
 * `inbound_nodes` per layer; Sequential ones are a plain list.
 */
export interface KerasLayerJson {
  name?: string;
  class_name: string;
  config: Record<string, unknown> & { name?: string; batch_input_shape?: (number | null)[] };
  inbound_nodes?: [string, number, number, unknown][][];
}
interface ModelConfig {
  class_name: string;
  config: {
    name?: string;
    layers: KerasLayerJson[];
    input_layers?: unknown[];
    output_layers?: [string, number, number][];
  } & Record<string, unknown>;
}
export type KerasTopology = ({ model_config: ModelConfig } | ModelConfig) & Record<string, unknown>;

function modelConfig(topology: KerasTopology): ModelConfig {
  return 'model_config' in topology ? (topology.model_config as ModelConfig) : (topology as ModelConfig);
}

function withModelConfig(topology: KerasTopology, config: ModelConfig): KerasTopology {
  return 'model_config' in topology ? { ...topology, model_config: config } : { ...topology, ...config };
}

const layerName = (layer: KerasLayerJson): string => layer.name ?? layer.config.name ?? '';

export function isSequential(topology: KerasTopology): boolean {
  return modelConfig(topology).class_name === 'Sequential';
}

export function layerNames(topology: KerasTopology): string[] {
  return modelConfig(topology).config.layers.map(layerName);
}

/** The model's input shape without the batch axis, e.g. [224, 224, 3] or [49]. */
export function inputShape(topology: KerasTopology): (number | null)[] {
  const first = modelConfig(topology).config.layers.find((l) => l.config.batch_input_shape);
  if (!first)
    throw new UserError(
      'the base model does not declare its input shape',
      ['base', 'model'],
      'save it with an input layer or `inputShape` on its first layer',
    );
  return first.config.batch_input_shape!.slice(1);
}

/**
 * The topology kept up to `cut` (the cut layer and everything it depends
 * on), with the input resized when `input` is given; undefined when the
 * model has no layer of that name (engine/facts/cut-base says so). Weights
 * are matched by name when loaded, so the dropped top's weights are simply
 * not used; conv weights do not depend on the spatial size, which is why
 * any input size ≥ the architecture's minimum works.
 */
export function cutTopology(topology: KerasTopology, cut: string, input?: number[]): KerasTopology | undefined {
  const config = modelConfig(topology);
  const layers = config.config.layers;
  const resize = (layer: KerasLayerJson): KerasLayerJson =>
    input && layer.config.batch_input_shape
      ? { ...layer, config: { ...layer.config, batch_input_shape: [null, ...input] } }
      : layer;

  if (isSequential(topology)) {
    const index = layers.findIndex((l) => layerName(l) === cut);
    if (index < 0) return undefined;
    return withModelConfig(topology, {
      ...config,
      config: { ...config.config, layers: layers.slice(0, index + 1).map(resize) },
    });
  }

  const byName = new Map(layers.map((layer) => [layerName(layer), layer]));
  if (!byName.has(cut)) return undefined;
  const keep = new Set<string>();
  const pending = [cut];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (keep.has(name)) continue;
    keep.add(name);
    for (const node of byName.get(name)!.inbound_nodes ?? []) for (const [source] of node) pending.push(source);
  }
  const kept = layers
    .filter((layer) => keep.has(layerName(layer)))
    .map((layer) => (layer.class_name === 'InputLayer' ? resize(layer) : layer));
  const inputs = (config.config.input_layers ?? []).filter((entry) => keep.has((entry as [string])[0]));
  return withModelConfig(topology, {
    ...config,
    config: { ...config.config, layers: kept, input_layers: inputs, output_layers: [[cut, 0, 0]] },
  });
}

/** Beyond these a model.json is not a model tlpipe can train on this machine: rejected before tfjs allocates anything. */
const LIMITS = {
  weightElements: 2 ** 28,
  totalWeightElements: 2 ** 29,
  dimension: 1_000_000,
  inputSide: 8192,
  units: 1_000_000,
} as const;

/**
 * Checks a model.json someone else wrote before tfjs builds it: every layer
 * class must be one tfjs-layers knows (tlpipe never loads code a model
 * names), and every shape must be sane, so an absurd file gets a clear
 * message instead of an allocation failure.
 */
export function checkTopology(
  topology: KerasTopology,
  weightSpecs: { name: string; shape: number[] }[],
  knownClasses: ReadonlySet<string>,
  file: string,
  keyPath: KeyPath = ['base', 'model'],
): void {
  const fail = (message: string, hint?: string): never => {
    throw new UserError(`${file}: ${message}`, keyPath, hint);
  };
  const config = topology && typeof topology === 'object' ? modelConfig(topology) : undefined;
  if (!config || typeof config !== 'object' || !Array.isArray(config.config?.layers))
    return fail('its modelTopology has no layer list');
  const visit = (layers: KerasLayerJson[]): void => {
    for (const layer of layers) {
      if (!layer || typeof layer !== 'object' || !layer.config || typeof layer.config !== 'object')
        fail('its layer list holds something that is not a layer');
      if (!knownClasses.has(layer.class_name)) {
        const near = closestMatches(layer.class_name, [...knownClasses], 1);
        fail(
          `layer \`${layerName(layer)}\` has class \`${layer.class_name}\`, which tfjs-layers does not know`,
          near.length > 0
            ? `did you mean \`${near[0]}\`? custom layers cannot be loaded`
            : 'custom layers cannot be loaded',
        );
      }
      const c = layer.config;
      for (const key of ['units', 'filters'] as const) {
        const v = c[key];
        if (v !== undefined && !(Number.isInteger(v) && (v as number) > 0 && (v as number) <= LIMITS.units))
          fail(
            `layer \`${layerName(layer)}\` has ${key} ${JSON.stringify(v)}`,
            `a ${key} count is a positive whole number up to ${LIMITS.units}`,
          );
      }
      if (c.batch_input_shape !== undefined && !Array.isArray(c.batch_input_shape))
        fail(`layer \`${layerName(layer)}\` has an input shape that is not a list`);
      for (const d of c.batch_input_shape ?? []) {
        if (d !== null && !(Number.isInteger(d) && d > 0 && d <= LIMITS.inputSide))
          fail(`layer \`${layerName(layer)}\` has input shape [${(c.batch_input_shape ?? []).join(', ')}]`);
      }
      const nested = (c as { layers?: KerasLayerJson[] }).layers;
      if (Array.isArray(nested)) visit(nested);
    }
  };
  visit(config.config.layers);
  let total = 0;
  for (const spec of weightSpecs) {
    if (!Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isInteger(d) || d < 0 || d > LIMITS.dimension))
      fail(`weight \`${spec.name}\` has shape ${JSON.stringify(spec.shape)}`);
    const elements = spec.shape.reduce((a, b) => a * b, 1);
    if (elements > LIMITS.weightElements)
      fail(
        `weight \`${spec.name}\` has ${elements.toExponential(2)} elements`,
        `tlpipe takes weights up to ${LIMITS.weightElements} elements (1 GiB of float32)`,
      );
    total += elements;
  }
  if (total > LIMITS.totalWeightElements)
    fail(
      `its weights have ${total.toExponential(2)} elements in all`,
      `tlpipe takes models up to ${LIMITS.totalWeightElements} weights (2 GiB of float32)`,
    );
}

/** Layers whose kernel ends in their `units` or `filters`: [in, units] or [kh, (kw, (kd,)) in, filters]. */
const KERNEL_LAST_DIMENSION: Readonly<Record<string, 'units' | 'filters'>> = {
  Dense: 'units',
  Conv1D: 'filters',
  Conv2D: 'filters',
  Conv3D: 'filters',
};

/**
 * Each dense or convolution layer of a model tlpipe exported must have its
 * kernel among the weights, ending in the units or filters it declares:
 * tfjs builds each layer (allocating its kernel at the declared size)
 * before it compares shapes, so a model.json whose `units` disagrees with
 * its weights is refused here, before anything is allocated.
 */
export function checkLayerWeights(
  topology: KerasTopology,
  weightSpecs: { name: string; shape: number[] }[],
  file: string,
  keyPath: KeyPath = [],
): void {
  const shapes = new Map(weightSpecs.map((w) => [w.name, w.shape]));
  const visit = (layers: KerasLayerJson[]): void => {
    for (const layer of layers) {
      const key = KERNEL_LAST_DIMENSION[layer.class_name];
      const nested = (layer.config as { layers?: KerasLayerJson[] }).layers;
      if (Array.isArray(nested)) visit(nested);
      if (!key) continue;
      const name = layerName(layer);
      const kernel = shapes.get(`${name}/kernel`);
      if (!kernel)
        throw new UserError(
          `${file}: layer \`${name}\` has no kernel among the model's weights`,
          keyPath,
          'its layers and its weights do not fit together; the model was damaged or edited',
        );
      const declared = layer.config[key];
      if (kernel[kernel.length - 1] !== declared) {
        throw new UserError(
          `${file}: layer \`${name}\` has ${key} ${JSON.stringify(declared)}, but its kernel has shape [${kernel.join(', ')}]`,
          keyPath,
          'its layers and its weights do not fit together; the model was damaged or edited',
        );
      }
    }
  };
  visit(modelConfig(topology).config.layers);
}
