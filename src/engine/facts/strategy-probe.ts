import { UserError } from '../../diagnostics/user-error.js';
import tf from '../tfjs.cjs';
import { spatialMean } from '../model/spatial-mean.js';
import type { StrategyProbe } from '../../plan/types.js';
import type { LoadedInputs } from './read-inputs.js';
import type { PipelineSpec } from '../../format/types.js';
import { ZOO } from '../../format/zoo-catalog.js';
import type { LoadedDataset, Selection } from '../data/datasets.js';
import { buildBase } from '../model/build-models.js';
import { imageBatch, type ImagePreprocessing } from '../data/preprocess.js';
import { SeededRandom } from '../random.js';
import type { EventListener } from '../events.js';
import type { ModelArtifacts } from '../model/zoo.js';

/** At most this many training examples per class are probed: enough to rank cuts, quick at any image size. */
const PROBE_PER_CLASS = 32;
/** Full-batch steps of the linear probe. */
const PROBE_STEPS = 150;

/** `strategy: auto`'s measurement, for an image dataset and a base: a fact for the planner, which decides (plan/strategy). */
export async function probeStrategy(
  spec: PipelineSpec,
  inputs: LoadedInputs,
  onEvent?: EventListener,
): Promise<StrategyProbe | undefined> {
  if (!inputs.artifacts || inputs.preprocessing.kind !== 'image') return undefined;
  return measureStrategy(spec, inputs.artifacts, inputs.dataset, inputs.selection, inputs.preprocessing, onEvent);
}

/**
 * `strategy: auto`: measures how well the base's features at each candidate
 * cut separate this data — a linear probe (softmax regression on pooled,
 * standardised features) fitted on 3/4 of a small stratified, seeded sample
 * of the training split and scored on the rest. The planner decides from
 * these numbers (plan/strategy).
 */
export async function measureStrategy(
  spec: PipelineSpec,
  artifacts: ModelArtifacts,
  dataset: LoadedDataset,
  selection: Selection,
  pre: ImagePreprocessing,
  onEvent: EventListener = () => undefined,
): Promise<StrategyProbe> {
  const cuts = ZOO[spec.base.model]!.probeCuts;
  const { fit, score } = probeSample(dataset.train.labels, selection.train, dataset.numClasses, spec.seed);
  // Said before the work: decoding the sample and a base per cut takes seconds, and nothing else is printed meanwhile.
  onEvent({
    type: 'strategy-probe-start',
    model: spec.base.model,
    cuts: [...cuts],
    examples: fit.length + score.length,
  });
  const pixels = await dataset.train.pixels([...fit, ...score]);
  const labels = Int32Array.from([...fit, ...score], (i) => dataset.train.labels[i]!);
  const probes: { cut: string; accuracy: number }[] = [];
  for (const cut of cuts) {
    const input = [...spec.dataset.image.size, 3];
    const base = await buildBase(artifacts, cut, input).catch((error: unknown) => {
      // The zoo's candidate cuts fit its models at every size the rules let through; if one still does not, it is said at the key that asked for the probe.
      throw new UserError(
        `strategy: auto could not build ${spec.base.model} cut at \`${cut}\` with input ${input.join('×')} to probe it: ${(error as Error).message.split('\n')[0]}`,
        ['strategy'],
        'name a strategy (head-only, head-then-all, low-level, all) or use a larger dataset.image.size',
      );
    });
    try {
      const features = pooledFeatures(base, imageBatch(pixels, pre));
      probes.push({ cut, accuracy: linearProbeAccuracy(features, labels, fit.length, dataset.numClasses) });
      features.dispose();
    } finally {
      base.dispose();
    }
  }
  return {
    perClass: selection.train.length / dataset.numClasses,
    probes,
    sample: { fit: fit.length / dataset.numClasses, score: score.length / dataset.numClasses },
  };
}

/** Up to PROBE_PER_CLASS training examples of each class, 3/4 to fit and 1/4 to score. */
function probeSample(
  labels: Int32Array,
  train: number[],
  classes: number,
  seed: number,
): { fit: number[]; score: number[] } {
  const random = new SeededRandom(seed).fork('strategy-probe');
  const fit: number[] = [];
  const score: number[] = [];
  for (let c = 0; c < classes; c++) {
    const chosen = random.shuffle(train.filter((i) => labels[i] === c)).slice(0, PROBE_PER_CLASS);
    const cut = Math.max(1, Math.round(chosen.length * 0.75));
    fit.push(...chosen.slice(0, cut));
    score.push(...chosen.slice(cut));
  }
  return { fit, score };
}

/** The base's output at the cut, average-pooled over space, in inference mode. */
function pooledFeatures(base: tf.LayersModel, x: tf.Tensor4D): tf.Tensor2D {
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < x.shape[0]; start += 32) {
    parts.push(
      tf.tidy(() => {
        const y = base.predict(tf.slice(x, start, Math.min(32, x.shape[0] - start))) as tf.Tensor;
        return y.rank === 4 ? spatialMean(y) : (y.reshape([y.shape[0]!, -1]) as tf.Tensor2D);
      }),
    );
  }
  x.dispose();
  const all = tf.concat(parts);
  tf.dispose(parts);
  return all;
}

/** Softmax regression from zero weights, fitted on the first `fitCount` rows and scored on the rest. */
function linearProbeAccuracy(features: tf.Tensor2D, labels: Int32Array, fitCount: number, classes: number): number {
  return tf.tidy(() => {
    const fitX = features.slice(0, fitCount);
    const { mean, variance } = tf.moments(fitX, 0);
    const standardise = (t: tf.Tensor2D): tf.Tensor2D => tf.div(tf.sub(t, mean), tf.add(tf.sqrt(variance), 1e-6));
    const x = standardise(fitX);
    const y = tf.oneHot(tf.tensor1d(labels.slice(0, fitCount), 'int32'), classes).toFloat();
    const w = tf.variable(tf.zeros([x.shape[1], classes]));
    const b = tf.variable(tf.zeros([classes]));
    const optimizer = tf.train.adam(0.01);
    for (let step = 0; step < PROBE_STEPS; step++) {
      optimizer.minimize(
        () =>
          tf.add(
            tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(x, w), b)),
            tf.mul(1e-3, tf.sum(tf.square(w))),
          ) as tf.Scalar,
      );
    }
    const actual = labels.slice(fitCount);
    // Nothing left to score (a class or two of one example): no product of zero rows, which wasm's XNNPACK refuses aloud on stderr.
    const predicted =
      actual.length === 0
        ? new Int32Array(0)
        : tf.argMax(tf.add(tf.matMul(standardise(features.slice(fitCount)), w), b), -1).dataSync();
    optimizer.dispose();
    w.dispose();
    b.dispose();
    return actual.length === 0 ? 0 : actual.filter((a, i) => a === predicted[i]).length / actual.length;
  });
}
