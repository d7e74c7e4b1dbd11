import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../engine/kernels/backend.js';
import { UserError } from '../engine/errors.js';
import { collectImageFiles, predictImages, type Prediction } from '../engine/evaluate/predict.js';
import type { Preprocessing } from '../engine/data/preprocess.js';
import type { Plan } from '../plan/types.js';
import type { BackendName } from '../format/types.js';
import { fileModelHandler } from '../store/model-files.js';
import { readRunJson } from './run-files.js';

export type PredictOutcome = { ok: true; predictions: Prediction[] } | { ok: false; message: string; hint?: string };

/** `tlpipe predict`: the run's model, labels and preprocessing, applied to image files. */
export async function predictRunImages(runDir: string, inputs: string[], options: { top: number; backend: BackendName }): Promise<PredictOutcome> {
  try {
    const labels = await readRunJson<string[]>(runDir, 'model/labels.json');
    const pre = await readRunJson<Preprocessing>(runDir, 'model/preprocessing.json');
    const plan = await readRunJson<Pick<Plan, 'loss'>>(runDir, 'plan.json');
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
