import tf from '../tfjs.cjs';
import { assertNever } from '../../format/dataset-formats/input.js';
import type { Plan } from '../../plan/types.js';
import type { SplitData } from '../data/datasets.js';
import { testMetrics, type TestMetrics } from './metrics.js';
import { imageBatch, oneHotBatch, vectorBatch, type Preprocessing } from '../data/preprocess.js';
import { chunk, prefetched, range, type BatchSource } from '../data/batches.js';
import { batchLoss } from '../train/loss.js';
import type { TtaTransform } from '../../format/evaluation-keys.js';
import { ttaProbabilities } from './test-time-augmentation.js';

/** Examples per inference batch when evaluating or extracting features. */
export const INFERENCE_BATCH = 32;
/** How many of the test examples the model got most wrong are listed. */
const WORST_EXAMPLES = 20;

/** Examples `indexes` of `data` as model inputs, decoded and preprocessed (and augmented) per batch. */
export function exampleSource(
  data: SplitData,
  indexes: number[],
  pre: Preprocessing,
  numClasses: number,
  augment?: (x: tf.Tensor4D) => tf.Tensor4D,
): BatchSource {
  return {
    count: indexes.length,
    batch: async (positions) => {
      const chosen = positions.map((p) => indexes[p]!);
      return { x: await modelInput(data, chosen, pre, augment), y: oneHotBatch(data.labels, chosen, numClasses) };
    },
  };
}

/** The model's input for some examples: preprocessed pixels, or standardised feature rows. */
export async function modelInput(
  data: SplitData,
  indexes: number[],
  pre: Preprocessing,
  augment?: (x: tf.Tensor4D) => tf.Tensor4D,
): Promise<tf.Tensor> {
  switch (pre.kind) {
    case 'tabular':
      return vectorBatch(await data.vectors!(indexes), pre);
    case 'image':
      return imageBatch(await data.pixels(indexes), pre, augment);
    default:
      return assertNever(pre);
  }
}

/** Loss, accuracy, top-k, per-class metrics, confusion matrix and the worst examples of `model` on `source`, in inference mode. */
export async function evaluateExamples(
  model: tf.LayersModel,
  source: BatchSource,
  loss: Plan['loss'],
  classNames: string[],
  exampleNames: string[],
  batch = INFERENCE_BATCH,
  transforms: readonly TtaTransform[] = [],
): Promise<TestMetrics> {
  return (await evaluatePredictions(model, source, loss, classNames, exampleNames, batch, transforms)).metrics;
}

/**
 * The metrics, with each example's true class and predicted probabilities
 * (for choosing what a report shows). With `transforms` (test-time
 * augmentation), the probabilities are averaged over their views, and the
 * loss is the cross-entropy of that average.
 */
export async function evaluatePredictions(
  model: tf.LayersModel,
  source: BatchSource,
  loss: Plan['loss'],
  classNames: string[],
  exampleNames: string[],
  batch = INFERENCE_BATCH,
  transforms: readonly TtaTransform[] = [],
): Promise<{ metrics: TestMetrics; actual: number[]; probabilities: number[][] }> {
  const actual: number[] = [];
  const probabilities: number[][] = [];
  let lossSum = 0;
  for await (const { positions, x, y } of prefetched(source, chunk(range(0, source.count), batch))) {
    tf.tidy(() => {
      const averaged =
        transforms.length > 0
          ? ttaProbabilities(model, x, transforms, loss === 'categoricalCrossentropy' ? 'probabilities' : 'logits')
          : undefined;
      const output = averaged ?? (model.apply(x, { training: false }) as tf.Tensor);
      lossSum += batchLoss(averaged ? 'categoricalCrossentropy' : loss, y, output).dataSync()[0]! * positions.length;
      actual.push(...tf.argMax(y, -1).dataSync());
      probabilities.push(
        ...((averaged || loss === 'categoricalCrossentropy' ? output : tf.softmax(output)).arraySync() as number[][]),
      );
    });
    tf.dispose([x, y]);
  }
  return {
    metrics: testMetrics(
      actual,
      probabilities,
      lossSum / Math.max(1, source.count),
      classNames,
      exampleNames,
      WORST_EXAMPLES,
    ),
    actual,
    probabilities,
  };
}
