import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../format/zoo-catalog.js';
import { UserError } from '../../diagnostics/user-error.js';
import { isCached } from './download.js';
import { layerNames, type KerasTopology } from './model-topology.js';

/** A Keras LayersModel as tfjs stores it: topology JSON, weight specs, one weight buffer. */
export interface ModelArtifacts {
  modelTopology: KerasTopology;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
  /** sha256 over topology and weights as shipped. */
  digest: string;
}

/** nsfwjs ships each model as UMD modules: model.min.js and base64 weight shards. */
const NSFWJS_MODELS: Readonly<Record<string, { dir: string }>> = {
  mobilenet_v2: { dir: 'mobilenet_v2' },
  inception_v3: { dir: 'inception_v3' },
};

const cache = new Map<string, ModelArtifacts>();

/** Weight shards as the one ArrayBuffer tfjs's weight specs index into. */
export function joinShards(shards: Uint8Array[]): ArrayBuffer {
  const joined = Buffer.concat(shards);
  return joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer;
}

/** Loads a zoo model's artifacts from the installed nsfwjs package. No network, no tfjs. */
export function loadZooArtifacts(name: string): ModelArtifacts {
  const cached = cache.get(name);
  if (cached) return cached;
  const entry = NSFWJS_MODELS[name];
  if (!entry || !ZOO[name]) throw new UserError(`unknown base model \`${name}\``, ['base', 'model']);
  const require = createRequire(import.meta.url);
  // The model files are not in nsfwjs's "exports"; an absolute path bypasses that map.
  const dir = path.join(path.dirname(require.resolve('nsfwjs')), '..', 'models', entry.dir);
  const model = require(path.join(dir, 'model.min.js')) as {
    modelTopology: KerasTopology;
    weightsManifest: tf.io.WeightsManifestConfig;
  };
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
  const artifacts: ModelArtifacts = {
    modelTopology: model.modelTopology,
    weightSpecs,
    weightData: joinShards(shards),
    digest: hash.digest('hex'),
  };
  cache.set(name, artifacts);
  return artifacts;
}

export interface ZooListing {
  name: string;
  description: string;
  nativeInputSize: [number, number];
  minInputSize: number;
  featureLayer: string;
  normalize: string;
  available: boolean;
  /** Why it is not available offline, when it is not. */
  problem?: string;
  /** Online entries: where it is downloaded from. */
  url?: string;
  layers?: number;
  params?: number;
  /** Time to read and decode the weights from the npm package. */
  loadSeconds?: number;
}

/** Every zoo entry, loaded once to check it is really there and to count its layers and weights. */
export function listZoo(): ZooListing[] {
  return Object.values(ZOO).map((entry) => {
    const listing: ZooListing = {
      name: entry.name,
      description: entry.description,
      nativeInputSize: entry.nativeInputSize,
      minInputSize: entry.minInputSize,
      featureLayer: entry.featureLayer,
      normalize: entry.normalize,
      available: false,
      ...(entry.url ? { url: entry.url } : {}),
    };
    if (entry.url) {
      listing.available = isCached(entry.url);
      listing.problem = listing.available ? undefined : `downloads on first use from ${entry.url}`;
      return listing;
    }
    const started = performance.now();
    try {
      const artifacts = loadZooArtifacts(entry.name);
      listing.loadSeconds = (performance.now() - started) / 1000;
      listing.layers = layerNames(artifacts.modelTopology).length;
      listing.params = artifacts.weightSpecs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1), 0);
      listing.available = true;
    } catch (error) {
      listing.problem = (error as Error).message.split('\n')[0];
    }
    return listing;
  });
}
