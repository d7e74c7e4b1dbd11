import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { UserError } from '../diagnostics/user-error.js';
import type { Preprocessing } from '../engine/data/preprocess.js';
import type { ExportFiles } from '../engine/train/checkpoints.js';
import { writeDemoPage } from './demo-page.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';

/**
 * A run's exported model folder, model/: model.json and weights.bin (the
 * LayersModel, through `fileModelHandler`), labels.json, preprocessing.json
 * and probe.json. This module is the only one that reads or writes them.
 */
export const MODEL_DIR = 'model';

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

/** labels.json, preprocessing.json and probe.json, beside the saved model. */
export async function writeExportFiles(runDir: string, files: ExportFiles, relativeDir = MODEL_DIR): Promise<void> {
  const dir = path.join(runDir, relativeDir);
  await writeFileAtomic(path.join(dir, 'labels.json'), JSON.stringify(files.labels, null, 2) + '\n');
  await writeFileAtomic(path.join(dir, 'preprocessing.json'), JSON.stringify(files.preprocessing, null, 2) + '\n');
  await writeFileAtomic(path.join(dir, 'probe.json'), JSON.stringify(files.probe) + '\n');
  // Last: the page carries the model, its labels and preprocessing inside it.
  await writeDemoPage(dir, writeFileAtomic);
}

/** What a run exported besides the weights: its class names, how inputs are prepared, and the probe. */
export interface ExportedModelInfo {
  dir: string;
  labels: string[];
  preprocessing: Preprocessing;
  probe?: ExportFiles['probe'];
}

/** A run's model folder, checked to be whole; a missing piece is a user error that says what to pass. */
export async function readExportedModel(runDir: string): Promise<ExportedModelInfo> {
  const dir = path.join(runDir, MODEL_DIR);
  const read = async <T>(name: string, required: boolean): Promise<T | undefined> => {
    const file = path.join(dir, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (!required) return undefined;
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError(code === 'ENOENT' ? `${file} not found` : `cannot read ${file}: ${code ?? (error as Error).message}`, [], 'pass a completed run; only a completed run has an exported model');
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new UserError(`${file} is not valid JSON`, [], 'the exported model is damaged; run the pipeline again');
    }
  };
  await read(MODEL_FILE, true);
  const probe = await read<ExportFiles['probe']>('probe.json', false);
  return { dir, labels: (await read<string[]>('labels.json', true))!, preprocessing: (await read<Preprocessing>('preprocessing.json', true))!, ...(probe ? { probe } : {}) };
}
