import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../engine/backend.js';
import { UserError } from '../engine/errors.js';
import { collectImageFiles, predictImages, type Prediction } from '../engine/predict.js';
import type { Preprocessing } from '../engine/preprocess.js';
import type { Plan } from '../plan/types.js';
import type { BackendName } from '../spec/types.js';
import { fileModelHandler } from '../store/model-files.js';

export type PredictOutcome = { ok: true; predictions: Prediction[] } | { ok: false; message: string; hint?: string };

async function readJson<T>(file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    throw new UserError(
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} not found` : `${file}: ${(error as Error).message}`,
      [],
      'pass a completed run directory, e.g. runs/quickstart/0001-04643d3d',
    );
  }
}

/** `tlpipe predict`: the run's model, labels and preprocessing, applied to image files. */
export async function predictRunImages(runDir: string, inputs: string[], options: { top: number; backend: BackendName }): Promise<PredictOutcome> {
  try {
    const labels = await readJson<string[]>(path.join(runDir, 'model', 'labels.json'));
    const pre = await readJson<Preprocessing>(path.join(runDir, 'model', 'preprocessing.json'));
    const plan = await readJson<Pick<Plan, 'loss'>>(path.join(runDir, 'plan.json'));
    const files = await collectImageFiles(inputs);
    await selectBackend(options.backend);
    const model = await tf.loadLayersModel(fileModelHandler(path.join(runDir, 'model')));
    const outputs = plan.loss === 'categoricalCrossentropy' ? 'probabilities' : 'logits';
    return { ok: true, predictions: await predictImages(model, labels, pre, outputs, files, Math.min(options.top, labels.length)) };
  } catch (error) {
    if (error instanceof UserError) return { ok: false, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
    throw error;
  }
}
