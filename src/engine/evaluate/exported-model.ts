import tf from '../tfjs.cjs';
import type { KeyPath } from '../../diagnostics/diagnostic.js';
import { UserError } from '../../diagnostics/user-error.js';
import type { Plan } from '../../plan/types.js';
import { foldBatchNorm } from '../model/fold-batch-norm.js';
import { knownLayerClasses } from '../model/local-model.js';
import { checkLayerWeights, checkTopology, type KerasTopology } from '../model/model-topology.js';
import type { BatchSource } from '../data/batches.js';
import { decisionMetrics } from './decision-metrics.js';
import type { DecisionRule } from './decision-rule.js';
import { evaluateExamples, evaluatePredictions } from './evaluate.js';
import type { TestMetrics } from './metrics.js';
import type { TtaTransform } from '../../format/evaluation-keys.js';
import { asTtaMetrics } from './test-time-augmentation.js';

/**
 * A run's exported LayersModel, loaded through the given IO handler (the
 * model folder's, which has checked its files). The topology is checked
 * before tfjs builds anything (layer classes tfjs knows, bounded units,
 * filters, input sides and weight shapes, each dense and convolution
 * kernel present at its declared size), and a model whose layers and
 * weights still do not fit together is a UserError naming `file`, not an
 * allocation failure with a stack.
 */
export async function loadExportedModel(
  handler: tf.io.IOHandler,
  file: string,
  keyPath: KeyPath = [],
): Promise<tf.LayersModel> {
  const artifacts = await checkedArtifacts(handler, file, keyPath);
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new UserError(
      `${file} cannot be built into a model: ${String((error as Error)?.message ?? error).split('\n')[0]}`,
      keyPath,
      'its layers and its weights do not fit together; the exported model was damaged or edited',
    );
  }
}

/** The handler's artifacts, their topology checked against its weights before anyone builds it. */
export async function checkedArtifacts(
  handler: tf.io.IOHandler,
  file: string,
  keyPath: KeyPath = [],
): Promise<tf.io.ModelArtifacts> {
  const artifacts = await handler.load!();
  const specs = (artifacts.weightSpecs ?? []) as { name: string; shape: number[] }[];
  checkTopology(artifacts.modelTopology as KerasTopology, specs, knownLayerClasses(), file, keyPath);
  checkLayerWeights(artifacts.modelTopology as KerasTopology, specs, file, keyPath);
  return artifacts;
}

/** What a loaded model takes and gives: its input shape without the batch axis, its number of classes, and whether it ends in softmax. */
export function modelShapes(model: tf.LayersModel): {
  input: (number | null)[];
  classes: number;
  outputs: 'probabilities' | 'logits';
} {
  const input = model.inputs[0]!.shape.slice(1);
  const output = model.outputs[0]!;
  const config = output.sourceLayer.getConfig() as { activation?: unknown };
  const softmax = config.activation === 'softmax' || output.sourceLayer.getClassName() === 'Softmax';
  return { input, classes: output.shape[output.shape.length - 1] ?? 0, outputs: softmax ? 'probabilities' : 'logits' };
}

/**
 * An exported model evaluated with batch norm folded into its convolutions,
 * as the run computed its features, so the numbers are summary.json's;
 * with `transforms`, also with test-time augmentation (`tta`).
 */
export async function evaluateExportedModel(
  model: tf.LayersModel,
  source: BatchSource,
  loss: Plan['loss'],
  classNames: string[],
  exampleNames: string[],
  batch: number,
  transforms: readonly TtaTransform[] = [],
  decision?: DecisionRule,
): Promise<TestMetrics> {
  const folded = await foldBatchNorm(model);
  try {
    const plain = decision
      ? await withDecision(folded, source, loss, classNames, exampleNames, batch, decision)
      : await evaluateExamples(folded, source, loss, classNames, exampleNames, batch);
    if (transforms.length === 0) return plain;
    const augmented = await evaluateExamples(folded, source, loss, classNames, exampleNames, batch, transforms);
    return { ...plain, tta: asTtaMetrics(augmented, transforms) };
  } finally {
    if (folded !== model) folded.dispose();
  }
}

/** The metrics, with what the model's decision rule (decision.json) changes on the same examples. */
async function withDecision(
  model: tf.LayersModel,
  source: BatchSource,
  loss: Plan['loss'],
  classNames: string[],
  exampleNames: string[],
  batch: number,
  rule: DecisionRule,
): Promise<TestMetrics> {
  const { metrics, actual, probabilities } = await evaluatePredictions(
    model,
    source,
    loss,
    classNames,
    exampleNames,
    batch,
  );
  return { ...metrics, decision: decisionMetrics(actual, probabilities, rule, classNames) };
}

export { preparedImages } from './predict.js';
