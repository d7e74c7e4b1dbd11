import { createHash } from 'node:crypto';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readUserFile } from '../errors.js';
import { UserError } from '../../diagnostics/user-error.js';
import { checkTopology, type KerasTopology } from './model-topology.js';
import { joinShards, type ModelArtifacts } from './zoo.js';

const read = (file: string, what: string): Buffer =>
  readUserFile(file, ['base', 'model'], what, 'a model.json base is a tfjs LayersModel: model.json with its weight files beside it (paths are relative to the pipeline file)');

/** A tfjs LayersModel saved on disk (model.json + weight shards), e.g. another run's model/ folder. */
export function loadLocalArtifacts(file: string): ModelArtifacts {
  const json = read(file, 'model file');
  let model: { modelTopology?: KerasTopology; weightsManifest?: tf.io.WeightsManifestConfig; format?: string };
  try {
    model = JSON.parse(json.toString('utf8')) as typeof model;
  } catch (error) {
    throw new UserError(`${file} is not JSON: ${(error as Error).message}`, ['base', 'model']);
  }
  if (!model.modelTopology || !model.weightsManifest) {
    throw new UserError(`${file} is not a tfjs LayersModel (it needs modelTopology and weightsManifest)`, ['base', 'model'], model.format === 'graph-model' ? 'graph models cannot be cut or fine-tuned; convert the Keras model as a layers model' : undefined);
  }
  const hash = createHash('sha256').update(json);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of model.weightsManifest) {
    for (const shard of group.paths) {
      const shardFile = path.resolve(path.dirname(file), shard);
      if (!shardFile.startsWith(path.dirname(path.resolve(file)) + path.sep)) {
        throw new UserError(`${file} names a weight file outside its folder: ${shard}`, ['base', 'model'], 'weight files sit beside model.json');
      }
      const data = read(shardFile, 'weight file');
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

/** The layer classes tfjs-layers has registered: the only ones a model.json may name. */
function knownLayerClasses(): ReadonlySet<string> {
  return new Set(Object.keys(tf.serialization.SerializationMap.getMap().classNameMap));
}
