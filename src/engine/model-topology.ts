import { closestMatches } from '../spec/did-you-mean.js';
import { UserError } from './errors.js';

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
  config: { name?: string; layers: KerasLayerJson[]; input_layers?: unknown[]; output_layers?: [string, number, number][] } & Record<string, unknown>;
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
  if (!first) throw new UserError('the base model does not declare its input shape', ['base', 'model'], 'save it with an input layer or `inputShape` on its first layer');
  return first.config.batch_input_shape!.slice(1);
}

function unknownLayer(topology: KerasTopology, cut: string): UserError {
  const names = layerNames(topology);
  const near = closestMatches(cut, names, 3);
  return new UserError(
    `the base has no layer named \`${cut}\``,
    ['base', 'cut'],
    near.length > 0 ? `nearest layer names: ${near.join(', ')}` : `layers run from ${names[0]} to ${names[names.length - 1]}`,
  );
}

/**
 * The topology kept up to `cut` (the cut layer and everything it depends
 * on), with the input resized when `input` is given. Weights are matched by
 * name when loaded, so the dropped top's weights are simply not used; conv
 * weights do not depend on the spatial size, which is why any input size ≥
 * the architecture's minimum works.
 */
export function cutTopology(topology: KerasTopology, cut: string, input?: number[]): KerasTopology {
  const config = modelConfig(topology);
  const layers = config.config.layers;
  const resize = (layer: KerasLayerJson): KerasLayerJson =>
    input && layer.config.batch_input_shape ? { ...layer, config: { ...layer.config, batch_input_shape: [null, ...input] } } : layer;

  if (isSequential(topology)) {
    const index = layers.findIndex((l) => layerName(l) === cut);
    if (index < 0) throw unknownLayer(topology, cut);
    return withModelConfig(topology, { ...config, config: { ...config.config, layers: layers.slice(0, index + 1).map(resize) } });
  }

  const byName = new Map(layers.map((layer) => [layerName(layer), layer]));
  if (!byName.has(cut)) throw unknownLayer(topology, cut);
  const keep = new Set<string>();
  const pending = [cut];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (keep.has(name)) continue;
    keep.add(name);
    for (const node of byName.get(name)!.inbound_nodes ?? []) for (const [source] of node) pending.push(source);
  }
  const kept = layers.filter((layer) => keep.has(layerName(layer))).map((layer) => (layer.class_name === 'InputLayer' ? resize(layer) : layer));
  const inputs = (config.config.input_layers ?? []).filter((entry) => keep.has((entry as [string])[0]));
  return withModelConfig(topology, { ...config, config: { ...config.config, layers: kept, input_layers: inputs, output_layers: [[cut, 0, 0]] } });
}
