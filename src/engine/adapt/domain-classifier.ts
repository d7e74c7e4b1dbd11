import tf from '../tfjs.cjs';
import { UserError } from '../../diagnostics/user-error.js';
import { SeededRandom } from '../random.js';
import { optimizerState, restoreOptimizer, type OptimizerSnapshot } from '../train/optimizers.js';

/** Its own optimizer's rate: fixed, since the stage's (often tiny, fine-tuning) rate would leave it unable to learn. */
export const DOMAIN_CLASSIFIER_RATE = 1e-3;
const HIDDEN_UNITS = 64;

/** What a checkpoint keeps of the classifier: its weights in layer order and its optimizer's state. */
export interface DomainClassifierSnapshot {
  weights: tf.Tensor[];
  optimizer: OptimizerSnapshot;
}

/**
 * DANN's domain classifier: pooled base features → dense 64 relu → one
 * logit (target = 1), with its own Adam. Its initial weights come from the
 * pipeline's seed and the stage's name, not from a run stream, so building
 * it draws nothing a later task would miss on resume.
 */
export class DomainClassifier {
  readonly model: tf.Sequential;
  readonly optimizer: tf.Optimizer;

  constructor(channels: number, seed: number, stage: string) {
    const random = new SeededRandom(seed).fork(`domain-classifier/${stage}`);
    this.model = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [channels],
          units: HIDDEN_UNITS,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed: random.nextSeed() }),
        }),
        tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: random.nextSeed() }) }),
      ],
    });
    this.optimizer = tf.train.adam(DOMAIN_CLASSIFIER_RATE);
  }

  /** Its trainable variables, in layer order: the order of its optimizer's state. */
  get variables(): tf.Variable[] {
    return this.model.trainableWeights.map((w) => w.read() as tf.Variable);
  }

  /** Logits [n, 1] of pooled features [n, channels]. */
  logits(features: tf.Tensor2D): tf.Tensor2D {
    return this.model.apply(features) as tf.Tensor2D;
  }

  /** One optimizer step on its own variables with the gradients the stage's tape computed. */
  step(grads: tf.NamedTensorMap): void {
    this.optimizer.applyGradients(Object.fromEntries(this.variables.map((v) => [v.name, grads[v.name]!])));
  }

  /** Copies of its weights and its optimizer's state; the caller disposes the tensors. */
  async snapshot(): Promise<DomainClassifierSnapshot> {
    return { weights: this.model.getWeights().map((w) => w.clone()), optimizer: await optimizerState(this.optimizer) };
  }

  async restore(snapshot: DomainClassifierSnapshot): Promise<void> {
    const own = this.model.getWeights();
    const fits =
      snapshot.weights.length === own.length &&
      own.every(
        (w, i) =>
          w.shape.length === snapshot.weights[i]!.shape.length &&
          w.shape.every((d, k) => d === snapshot.weights[i]!.shape[k]),
      );
    if (!fits)
      throw new UserError(
        "the checkpoint's domain classifier does not fit this stage's (other base features at the cut)",
        [],
        "the checkpoint does not belong to this run's plan; delete the checkpoints folder to start the run over",
      );
    this.model.setWeights(snapshot.weights);
    await restoreOptimizer(this.optimizer, snapshot.optimizer);
  }

  dispose(): void {
    this.optimizer.dispose();
    this.model.dispose();
  }
}
