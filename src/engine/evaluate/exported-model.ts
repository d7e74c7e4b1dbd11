import * as tf from '@tensorflow/tfjs';
import type { Plan } from '../../plan/types.js';
import { foldBatchNorm } from '../model/fold-batch-norm.js';
import type { BatchSource } from '../train/train-stage.js';
import { evaluateExamples } from './evaluate.js';
import type { TestMetrics } from './metrics.js';

/** A run's exported LayersModel, loaded through the given IO handler (the run's model folder). */
export function loadExportedModel(handler: tf.io.IOHandler): Promise<tf.LayersModel> {
  return tf.loadLayersModel(handler);
}

/**
 * An exported model evaluated with batch norm folded into its convolutions,
 * as the run computed its features, so the numbers are summary.json's.
 */
export async function evaluateExportedModel(handler: tf.io.IOHandler, source: BatchSource, loss: Plan['loss'], classNames: string[], exampleNames: string[], batch: number): Promise<TestMetrics> {
  const model = await tf.loadLayersModel(handler);
  const folded = await foldBatchNorm(model);
  try {
    return await evaluateExamples(folded, source, loss, classNames, exampleNames, batch);
  } finally {
    if (folded !== model) folded.dispose();
    model.dispose();
  }
}

export { preparedImages } from './predict.js';
