import { createHash } from 'node:crypto';
import path from 'node:path';
import tf from '../tfjs.cjs';
import { readRegularFile } from '../read-file.js';
import type { KeyPath } from '../../diagnostics/diagnostic.js';
import { UserError } from '../../diagnostics/user-error.js';
import { confinedPath } from '../../platform/read-back.js';
import { checkTopology, type KerasTopology } from './model-topology.js';
import { joinShards, type ModelArtifacts } from './zoo.js';

const HINT =
  'a model.json base is a tfjs LayersModel: model.json with its weight files beside it (paths are relative to the pipeline file)';

/** What a file that should be JSON holds instead, said without quoting it (it may be anything, /etc/passwd say). */
export function describeNonJson(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'it is empty';
  const sample = bytes.subarray(0, 512);
  const binary = sample.some((b) => b < 9 || (b > 13 && b < 32));
  return binary
    ? `it holds binary data (${bytes.length} bytes)`
    : `it holds text that is not JSON (${bytes.length} bytes)`;
}

/** A tfjs LayersModel saved on disk (model.json + weight shards), e.g. another run's model/ folder. */
export async function loadLocalArtifacts(file: string): Promise<ModelArtifacts> {
  const json = await readRegularFile(file, 'model', ['base', 'model'], HINT);
  let model: { modelTopology?: KerasTopology; weightsManifest?: tf.io.WeightsManifestConfig; format?: string };
  try {
    model = JSON.parse(json.toString('utf8')) as typeof model;
  } catch {
    throw new UserError(`${file} is not a model.json: ${describeNonJson(json)}`, ['base', 'model'], HINT);
  }
  if (model === null || typeof model !== 'object')
    throw new UserError(
      `${file} is not a model.json: it holds a JSON ${Array.isArray(model) ? 'list' : typeof model}, not an object`,
      ['base', 'model'],
      HINT,
    );
  if (!model.modelTopology || !model.weightsManifest) {
    throw new UserError(
      `${file} is not a tfjs LayersModel (it needs modelTopology and weightsManifest)`,
      ['base', 'model'],
      model.format === 'graph-model'
        ? 'graph models cannot be cut or fine-tuned; convert the Keras model as a layers model'
        : undefined,
    );
  }
  const hash = createHash('sha256').update(json);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of model.weightsManifest) {
    for (const shard of group.paths) {
      const shardFile = confinedWeightFile(file, shard, ['base', 'model']);
      const data = await readRegularFile(shardFile, 'weights', ['base', 'model'], HINT);
      hash.update(data);
      shards.push(data);
    }
    weightSpecs.push(...group.weights);
  }
  checkTopology(model.modelTopology, weightSpecs, knownLayerClasses(), file);
  return {
    modelTopology: model.modelTopology,
    weightSpecs,
    weightData: joinShards(shards),
    digest: hash.digest('hex'),
  };
}

/**
 * A weight file a model.json names, resolved beside it: `../../w.bin`, an
 * absolute path or a NUL byte is refused. The one check every loader of a
 * model.json makes (a base model here, a run's exported model in the store).
 */
export function confinedWeightFile(modelFile: string, shard: unknown, keyPath: KeyPath): string {
  try {
    return confinedPath(path.dirname(path.resolve(modelFile)), shard as string, 'weight file');
  } catch {
    throw new UserError(
      `${modelFile} names a weight file outside its folder: ${String(shard)}`,
      keyPath,
      'weight files sit beside model.json',
    );
  }
}

/** The layer classes tfjs-layers has registered: the only ones a model.json may name. */
export function knownLayerClasses(): ReadonlySet<string> {
  return new Set(Object.keys(tf.serialization.SerializationMap.getMap().classNameMap));
}
