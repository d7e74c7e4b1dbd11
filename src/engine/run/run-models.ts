import type * as tf from '@tensorflow/tfjs';
import { prefixModel, suffixModel } from '../model/split-model.js';

/**
 * The models of one run, all sharing the base's and the head's layers, so
 * that training one trains them all: the head alone on features, base and
 * head as one, and the base with the head's weightless leading layers (the
 * feature extractor). Built by the head task; run-wide, since a stage
 * changes the weights every later task sees.
 */
export class RunModels {
  /** The whole model cut at a fine-tuning stage's frozen prefix, by the layer it ends at: both halves share its layers. */
  private readonly halves = new Map<string, { prefix: tf.LayersModel; suffix: tf.LayersModel }>();

  constructor(
    /** The head as trained on features: the layers after those folded into feature extraction. */
    readonly head: tf.LayersModel,
    /** Base and head as one model: trained when a stage fine-tunes, exported at the end. */
    readonly full: tf.LayersModel,
    /** Base plus the head's weightless leading layers, whose output the features are. */
    readonly extractor: tf.LayersModel,
  ) {}

  /** The model a stage trains or checkpoints: the head alone, or base and head. */
  model(kind: 'head' | 'full'): tf.LayersModel {
    return kind === 'full' ? this.full : this.head;
  }

  /** The whole model from its input to `boundary`'s output. */
  prefix(boundary: string): tf.LayersModel {
    return this.split(boundary).prefix;
  }

  /** The whole model above `boundary`: what a fine-tuning stage trains on its frozen prefix's output. */
  suffix(boundary: string): tf.LayersModel {
    return this.split(boundary).suffix;
  }

  private split(boundary: string): { prefix: tf.LayersModel; suffix: tf.LayersModel } {
    let halves = this.halves.get(boundary);
    if (!halves)
      this.halves.set(
        boundary,
        (halves = { prefix: prefixModel(this.full, boundary), suffix: suffixModel(this.full, boundary) }),
      );
    return halves;
  }

  /** Frees the head's weights; the base belongs to whoever built it. */
  dispose(): void {
    this.head.dispose();
  }
}
