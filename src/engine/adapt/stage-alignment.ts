import tf from '../tfjs.cjs';
import type { StageAlignment } from '../../plan/types.js';
import { range } from '../data/batches.js';
import type { TargetSource } from '../data/target-images.js';
import type { EpochMetrics } from '../events.js';
import type { SeededRandom } from '../random.js';
import { spatialMean } from '../model/spatial-mean.js';
import { coralLoss } from './coral.js';
import { DomainClassifier, type DomainClassifierSnapshot } from './domain-classifier.js';
import { reverseGradient, reversalScale } from './gradient-reversal.js';

/** What a stage that aligns needs from the run: its models, the target images and their stream. */
export interface AlignmentSetup {
  alignment: StageAlignment;
  /** Base and head as one, with the base's output at the cut as a first output: the stage's forward pass. */
  model: tf.LayersModel;
  /** The base alone: target images to its output at the cut. */
  base: tf.LayersModel;
  target: TargetSource;
  /** The run's stream for the target images' order: checkpointed with the others, so a resumed run draws the same batches. */
  order: SeededRandom;
  seed: number;
  stage: string;
}

/** The alignment part of one step's loss, and what it measured, kept out of the tape's tidy. */
interface StepRecord {
  loss: tf.Scalar;
  correct?: tf.Scalar;
  examples: number;
}

/**
 * The learned alignment of one stage (CORAL or DANN): each training batch is
 * paired with an equally large batch of target images, in an order drawn
 * from the run's `target` stream once per epoch (cycling when the target
 * images are fewer than a batch or an epoch), and the term it adds to the
 * step's loss is computed inside the stage's gradient tape.
 */
export class StageAligner {
  readonly classifier: DomainClassifier | undefined;
  private order: number[] = [];
  private next = 0;
  private record: StepRecord | undefined;
  private sums = { loss: 0, weight: 0, correct: 0, examples: 0 };

  constructor(readonly setup: AlignmentSetup) {
    const channels = setup.base.outputs[0]!.shape.at(-1)!;
    this.classifier =
      setup.alignment.method === 'dann' ? new DomainClassifier(channels, setup.seed, setup.stage) : undefined;
  }

  get model(): tf.LayersModel {
    return this.setup.model;
  }

  async restore(snapshot: DomainClassifierSnapshot | undefined): Promise<void> {
    if (this.classifier && snapshot) await this.classifier.restore(snapshot);
  }

  /** A new epoch: a fresh order of the target images, and fresh sums for its metrics. */
  startEpoch(): void {
    this.order = this.setup.order.shuffle(range(0, this.setup.target.count));
    this.next = 0;
    this.sums = { loss: 0, weight: 0, correct: 0, examples: 0 };
  }

  /** The next `n` target images of this epoch's order, as model inputs. */
  targetBatch(n: number): Promise<tf.Tensor4D> {
    const count = this.order.length;
    const positions = Array.from({ length: n }, (_, i) => this.order[(this.next + i) % count]!);
    this.next = (this.next + n) % count;
    return this.setup.target.batch(positions);
  }

  /**
   * Inside the tape: the term added to the step's loss, from the base's
   * output at the cut on the training batch and the target batch.
   * coral: weight × ‖C_s − C_t‖²_F / 4d². dann: the domain classifier's
   * binary cross-entropy (training = 0, target = 1) on both batches' pooled
   * features through gradient reversal at weight × (2/(1+e^(−10p)) − 1).
   */
  term(sourceCut: tf.Tensor, target: tf.Tensor4D, progress: number): tf.Scalar {
    const source = spatialMean(sourceCut);
    const targetRows = spatialMean(this.setup.base.apply(target, { training: true }) as tf.Tensor);
    const { method, weight } = this.setup.alignment;
    if (method === 'coral') {
      const loss = coralLoss(source, targetRows);
      this.record = { loss: tf.keep(loss), examples: source.shape[0] };
      return tf.mul(loss, weight);
    }
    const both = reverseGradient(tf.concat([source, targetRows]), reversalScale(weight, progress));
    const logits = this.classifier!.logits(both);
    const labels = tf.concat([tf.zeros([source.shape[0], 1]), tf.ones([targetRows.shape[0], 1])]);
    const loss = tf.losses.sigmoidCrossEntropy(labels, logits) as tf.Scalar;
    const correct = tf.sum(tf.cast(tf.equal(tf.cast(tf.greater(logits, 0), 'float32'), labels), 'float32'));
    this.record = {
      loss: tf.keep(loss),
      correct: tf.keep(correct as tf.Scalar),
      examples: source.shape[0] + targetRows.shape[0],
    };
    return loss;
  }

  /** The variables the alignment trains beside the stage's: the domain classifier's. */
  get variables(): tf.Variable[] {
    return this.classifier?.variables ?? [];
  }

  /** After the tape: the classifier's own step, and the step's measurements added to the epoch's. */
  afterStep(grads: tf.NamedTensorMap): void {
    this.classifier?.step(grads);
    const record = this.record;
    if (!record) return;
    this.record = undefined;
    const examples = record.examples;
    this.sums.loss += record.loss.dataSync()[0]! * examples;
    this.sums.weight += examples;
    if (record.correct) this.sums.correct += record.correct.dataSync()[0]!;
    this.sums.examples += examples;
    tf.dispose([record.loss, ...(record.correct ? [record.correct] : [])]);
  }

  /** The epoch's alignment metrics: coral's mean loss, or the domain classifier's mean loss and accuracy. */
  epochMetrics(): Pick<EpochMetrics, 'coral_loss' | 'domain_loss' | 'domain_accuracy'> {
    const mean = this.sums.loss / Math.max(this.sums.weight, 1);
    return this.setup.alignment.method === 'coral'
      ? { coral_loss: mean }
      : { domain_loss: mean, domain_accuracy: this.sums.correct / Math.max(this.sums.examples, 1) };
  }

  dispose(): void {
    if (this.record) tf.dispose([this.record.loss, ...(this.record.correct ? [this.record.correct] : [])]);
    this.classifier?.dispose();
  }
}

/** Base and head as one, with the base's output at the cut as a first output; it shares their layers (never dispose it). */
export function alignedModel(full: tf.LayersModel, base: tf.LayersModel): tf.LayersModel {
  return tf.model({ inputs: full.inputs, outputs: [base.outputs[0]!, full.outputs[0]!], name: `${full.name}_aligned` });
}
