import tf from '../../tfjs.cjs';
import type { ExportTask } from '../../../plan/types.js';
import { splitSource } from '../../data/datasets.js';
import type { DecisionRule } from '../../evaluate/decision-rule.js';
import { evaluateExamples, modelInput } from '../../evaluate/evaluate.js';
import { inferenceBatch } from '../../../plan/memory-estimate.js';
import { quantizeWeights } from '../../model/quantize-weights.js';
import { sameModel } from '../../model/same-model.js';
import { prefixModel, suffixModel } from '../../model/split-model.js';
import { activationsCache, PrefixActivations } from '../../cache/prefix-activations.js';
import { joinShards } from '../../model/zoo.js';
import { setTrainableLayers } from '../../model/trainable-layers.js';
import type { RunContext } from '../run-context.js';
import type { Exported, TaskInputs } from '../task-results.js';
import { splitExamples } from './data.js';

/** How many test examples the exported model is checked on after a save/load round trip (kept in model/probe.json). */
const EXPORT_PROBE_SIZE = 16;
/**
 * probe.json's rows: one per example, a score per class. A model with a
 * score per pixel (segmentation) has each example's scores averaged over its
 * pixels, which any change in preprocessing still moves.
 */
const probeRows = (predictions: tf.Tensor): number[][] =>
  tf.tidy(() => (predictions.rank === 4 ? tf.mean(predictions, [1, 2]) : predictions).arraySync() as number[][]);

/**
 * Saves base + head as one LayersModel, with its labels and preprocessing,
 * then loads it back through the same handler and checks it predicts what
 * the in-memory model predicts.
 */
export async function runExportTask(
  task: ExportTask,
  inputs: TaskInputs['export'],
  run: RunContext,
): Promise<Exported> {
  // The rule fitted on validation (decision.json) goes with every copy of the model: it decides what the model answers.
  const decision = inputs.decision?.rule;
  const { plan, options } = run;
  const { output } = options;
  const model = run.models.full;
  setTrainableLayers(run.inputs.base, 'none');
  const dir = 'model';
  await model.save(output.modelHandler(dir));
  const { dataset, selection, preprocessing } = run.inputs;
  const split = selection.test.length > 0 ? 'test' : 'train';
  const indexes = selection[split].slice(0, EXPORT_PROBE_SIZE);
  const source = splitSource(dataset, split);
  const probe = await modelInput(source, indexes, preprocessing);
  const reloaded = await tf.loadLayersModel(output.modelHandler(dir));
  let exported: Exported;
  try {
    const expected = await probePredictions(model, plan.base.cut, probe, run);
    // The same layers with the same weights, bit for bit, predict the same: the reload's own pass over the probe
    // runs only when something differs, to say by how much.
    const same = sameModel(model, reloaded);
    const maxAbsDifference = same
      ? 0
      : tf.tidy(() => tf.max(tf.abs(tf.sub(expected, reloaded.predict(probe) as tf.Tensor))).dataSync()[0]!);
    // Lets anyone who loads the model elsewhere check their preprocessing reproduces these outputs.
    await output.writeExportFiles({
      labels: plan.classes.names,
      preprocessing,
      probe: {
        split,
        indexes,
        examples: indexes.map((index) => source.name(index)),
        predictions: probeRows(expected),
      },
      ...(task.demoPage !== undefined ? { demoPage: task.demoPage } : {}),
      ...(plan.task ? { task: plan.task } : {}),
      ...(decision ? { decision } : {}),
    });
    expected.dispose();
    // verified: the same topology and the same weight bytes as the trained model (the reload runs only when they differ).
    exported = { dir, verified: same && maxAbsDifference === 0, maxAbsDifference, probeExamples: probe.shape[0]! };
  } finally {
    probe.dispose();
    reloaded.dispose();
  }
  if (task.quantize) exported.quantized = await exportQuantized(model, task.quantize, task.demoPage, run, decision);
  options.onEvent({
    type: 'export-end',
    dir,
    verified: exported.verified,
    maxAbsDifference: exported.maxAbsDifference,
    ...(exported.quantized ? { quantized: exported.quantized } : {}),
  });
  return exported;
}

/**
 * The model's predictions for the probe: the base's activations at the cut
 * from the stage cache where an earlier run kept them (a head-only change
 * leaves them as they were), the layers above on them. The same bits as
 * the whole model on the images: the same layers, each image computed
 * alone. The whole model where the cut is not one of its layers.
 */
async function probePredictions(
  model: tf.LayersModel,
  cut: string,
  probe: tf.Tensor,
  run: RunContext,
): Promise<tf.Tensor> {
  const whole = (): tf.Tensor => tf.tidy(() => model.predict(probe) as tf.Tensor);
  if (probe.rank !== 4 || model.outputs.length !== 1 || !model.layers.some((layer) => layer.name === cut))
    return whole();
  let above: tf.LayersModel;
  try {
    above = suffixModel(model, cut);
  } catch {
    // Layers above the cut that also read below it (a U-Net's skips): no split at the cut.
    return whole();
  }
  const { options, inputs, plan } = run;
  const below = prefixModel(model, cut);
  const activations = await new PrefixActivations(
    below,
    activationsCache(plan, options.cache, inputs.backend.name, options.onEvent),
  ).of(probe as tf.Tensor4D);
  try {
    return tf.tidy(() => above.predict(activations) as tf.Tensor);
  } finally {
    activations.dispose();
  }
}

/**
 * The same model with quantized weights in model-<dtype>/ (with the same
 * labels, preprocessing and probe), loaded back as a user would load it and
 * evaluated on the test split, so the accuracy it costs is measured, not guessed.
 */
async function exportQuantized(
  model: tf.LayersModel,
  dtype: 'uint8' | 'float16',
  demoPage: boolean | undefined,
  run: RunContext,
  decision: DecisionRule | undefined,
): Promise<Exported['quantized']> {
  const { plan, inputs, options } = run;
  const { output } = options;
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const floatData = joinedWeights(artifacts!.weightData!);
  const quantized = quantizeWeights(artifacts!.weightSpecs!, floatData, dtype);
  const dir = `model-${dtype}`;
  await output.modelHandler(dir).save!({ ...artifacts!, weightSpecs: quantized.specs, weightData: quantized.data });
  const loaded = await tf.loadLayersModel(output.modelHandler(dir));
  try {
    const { dataset, selection, preprocessing } = inputs;
    const split = selection.test.length > 0 ? 'test' : 'train';
    const indexes = selection[split].slice(0, EXPORT_PROBE_SIZE);
    const source = splitSource(dataset, split);
    const probe = await modelInput(source, indexes, preprocessing);
    const expected = tf.tidy(() => model.predict(probe) as tf.Tensor);
    const actual = tf.tidy(() => loaded.predict(probe) as tf.Tensor);
    const maxAbsDifference = tf.tidy(() => tf.max(tf.abs(tf.sub(expected, actual))).dataSync()[0]!);
    await output.writeExportFiles(
      {
        labels: plan.classes.names,
        preprocessing,
        probe: {
          split,
          indexes,
          examples: indexes.map((index) => source.name(index)),
          predictions: probeRows(actual),
        },
        ...(demoPage !== undefined ? { demoPage } : {}),
        ...(plan.task ? { task: plan.task } : {}),
        ...(decision ? { decision } : {}),
      },
      dir,
    );
    tf.dispose([probe, expected, actual]);
    const test =
      selection.test.length > 0
        ? await evaluateExamples(
            loaded,
            splitExamples(run, 'test'),
            plan.loss,
            plan.classes.names,
            selection.test.map((i) => splitSource(dataset, 'test').name(i)),
            inferenceBatch(plan.base.layers),
          )
        : undefined;
    return {
      dtype,
      dir,
      weightBytes: quantized.data.byteLength,
      floatWeightBytes: floatData.byteLength,
      maxAbsDifference,
      ...(test ? { test: { accuracy: test.accuracy, loss: test.loss } } : {}),
    };
  } finally {
    loaded.dispose();
  }
}

const joinedWeights = (data: tf.io.WeightData): ArrayBuffer =>
  data instanceof ArrayBuffer ? data : joinShards(data.map((b) => new Uint8Array(b)));
