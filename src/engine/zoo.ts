import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { closestMatches } from '../spec/did-you-mean.js';
import { ZOO } from '../spec/zoo-catalog.js';
import { UserError } from './errors.js';

/** A Keras LayersModel as tfjs stores it: topology JSON, weight specs, one weight buffer. */
export interface ModelArtifacts {
  modelTopology: KerasTopology;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
  /** sha256 over topology and weights as shipped. */
  digest: string;
}

interface KerasLayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown> & { batch_input_shape?: (number | null)[] };
  inbound_nodes: [string, number, number, unknown][][];
}
export interface KerasTopology {
  model_config: { class_name: string; config: { name: string; layers: KerasLayerJson[]; input_layers: unknown[]; output_layers: [string, number, number][] } };
  [key: string]: unknown;
}

/** nsfwjs ships each model as UMD modules: model.min.js and base64 weight shards. */
const NSFWJS_MODELS: Readonly<Record<string, { dir: string }>> = {
  mobilenet_v2: { dir: 'mobilenet_v2' },
  inception_v3: { dir: 'inception_v3' },
};

const cache = new Map<string, ModelArtifacts>();

/** Loads a zoo model's artifacts from the installed nsfwjs package. No network, no tfjs. */
export function loadZooArtifacts(name: string): ModelArtifacts {
  const cached = cache.get(name);
  if (cached) return cached;
  const entry = NSFWJS_MODELS[name];
  if (!entry || !ZOO[name]) throw new UserError(`unknown base model \`${name}\``, ['base', 'model']);
  const require = createRequire(import.meta.url);
  // The model files are not in nsfwjs's "exports"; an absolute path bypasses that map.
  const dir = path.join(path.dirname(require.resolve('nsfwjs')), '..', 'models', entry.dir);
  const model = require(path.join(dir, 'model.min.js')) as { modelTopology: KerasTopology; weightsManifest: tf.io.WeightsManifestConfig };
  const hash = createHash('sha256').update(JSON.stringify(model.modelTopology));
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of model.weightsManifest) {
    for (const shardPath of group.paths) {
      const base64 = require(path.join(dir, `${shardPath}.min.js`)) as string;
      const shard = Buffer.from(base64, 'base64');
      hash.update(shard);
      shards.push(shard);
    }
    weightSpecs.push(...group.weights);
  }
  const joined = Buffer.concat(shards);
  const artifacts: ModelArtifacts = {
    modelTopology: model.modelTopology,
    weightSpecs,
    weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer,
    digest: hash.digest('hex'),
  };
  cache.set(name, artifacts);
  return artifacts;
}

export function layerNames(topology: KerasTopology): string[] {
  return topology.model_config.config.layers.map((l) => l.name);
}

/**
 * The topology of the base kept up to `cut` (the cut layer and everything it
 * depends on), with the input resized. Weights are matched by name when
 * loaded, so the dropped top's weights are simply not used; conv weights do
 * not depend on the spatial size, which is why any input size ≥ the
 * architecture's minimum works.
 */
export function cutTopology(topology: KerasTopology, cut: string, inputSize: [number, number], channels: number): KerasTopology {
  const config = topology.model_config.config;
  const byName = new Map(config.layers.map((layer) => [layer.name, layer]));
  if (!byName.has(cut)) {
    const names = layerNames(topology);
    const near = closestMatches(cut, names, 3);
    throw new UserError(
      `the base has no layer named \`${cut}\``,
      ['base', 'cut'],
      near.length > 0 ? `nearest layer names: ${near.join(', ')}` : `layers run from ${names[1]} to ${names[names.length - 1]}`,
    );
  }
  const keep = new Set<string>();
  const pending = [cut];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (keep.has(name)) continue;
    keep.add(name);
    for (const node of byName.get(name)!.inbound_nodes) for (const [source] of node) pending.push(source);
  }
  const layers = config.layers
    .filter((layer) => keep.has(layer.name))
    .map((layer) =>
      layer.class_name === 'InputLayer'
        ? { ...layer, config: { ...layer.config, batch_input_shape: [null, inputSize[0], inputSize[1], channels] } }
        : layer,
    );
  if (layers.some((layer) => ['Flatten', 'Dense'].includes(layer.class_name))) {
    throw new UserError(`cutting at \`${cut}\` keeps the base's classifier top, which only fits its native input size`, ['base', 'cut'], `cut at a feature layer such as \`${featureLayerHint(topology)}\``);
  }
  return {
    ...topology,
    model_config: { ...topology.model_config, config: { ...config, layers, output_layers: [[cut, 0, 0]] } },
  };
}

function featureLayerHint(topology: KerasTopology): string {
  const names = new Set(layerNames(topology));
  return Object.values(ZOO).find((entry) => names.has(entry.featureLayer))?.featureLayer ?? 'the last convolutional block';
}
