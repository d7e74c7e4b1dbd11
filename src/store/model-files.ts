import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

function joinWeightData(data: io.WeightData): Uint8Array {
  return Array.isArray(data) ? Buffer.concat(data.map((part) => new Uint8Array(part))) : new Uint8Array(data);
}

/**
 * A tfjs IO handler for a folder on disk: model.json plus one weights.bin,
 * the layout `tf.loadLayersModel('file://…')` expects from tfjs-node. Pure
 * tfjs has no file:// handler; this one writes atomically and writes
 * model.json last, so a folder with a model.json always has its weights.
 */
export function fileModelHandler(dir: string): io.IOHandler {
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary model topologies are not supported');
      const weights = artifacts.weightData ? joinWeightData(artifacts.weightData) : new Uint8Array(0);
      await writeFileAtomic(path.join(dir, WEIGHTS_FILE), weights);
      const modelJson: io.ModelJSON = {
        modelTopology: artifacts.modelTopology!,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? 'tlpipe',
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await writeJsonAtomic(path.join(dir, MODEL_FILE), modelJson);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },

    async load(): Promise<io.ModelArtifacts> {
      const modelJson = JSON.parse(await readFile(path.join(dir, MODEL_FILE), 'utf8')) as io.ModelJSON;
      const specs: io.WeightsManifestEntry[] = [];
      const parts: Uint8Array[] = [];
      for (const group of modelJson.weightsManifest) {
        for (const shard of group.paths) parts.push(await readFile(path.join(dir, shard)));
        specs.push(...group.weights);
      }
      const joined = Buffer.concat(parts);
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
        weightSpecs: specs,
        weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer,
        ...(modelJson.trainingConfig ? { trainingConfig: modelJson.trainingConfig } : {}),
        ...(modelJson.userDefinedMetadata ? { userDefinedMetadata: modelJson.userDefinedMetadata } : {}),
      };
    },
  };
}
