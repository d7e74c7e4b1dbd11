import tf from '../tfjs.cjs';
import { UserError } from '../../diagnostics/user-error.js';
import { prefixModel, suffixModel } from '../model/split-model.js';

/**
 * Grad-CAM (Selvaraju et al., 2017): where in an image the evidence for a
 * class lies, as the model sees it. The gradient of the class's score with
 * respect to a convolutional layer's activations, averaged over the
 * positions, weighs that layer's channels; their weighted sum, rectified,
 * is the map, resized to the model's input and scaled to a maximum of 1.
 */

/** One image's map for one class: height × width values in 0–1 at the model's input size, row by row. */
export interface ClassHeatmap {
  classIndex: number;
  height: number;
  width: number;
  values: Float32Array;
}

/**
 * The layer Grad-CAM reads by default: the last one whose output still has
 * height and width (the last convolutional block before pooling), which
 * keeps the most class-specific features with some spatial resolution left.
 * A named layer must exist and have a 4-d output.
 */
export function explanationLayer(model: tf.LayersModel, name?: string): string {
  const spatial = (layer: tf.layers.Layer): boolean => {
    const shape = layer.outputShape;
    return !Array.isArray(shape[0]) && shape.length === 4 && layer.getClassName() !== 'InputLayer';
  };
  if (name !== undefined) {
    const layer = model.layers.find((l) => l.name === name);
    if (!layer)
      throw new UserError(
        `the model has no layer \`${name}\``,
        [],
        `layers with height and width: ${model.layers
          .filter(spatial)
          .slice(-5)
          .map((l) => l.name)
          .join(', ')}`,
      );
    if (!spatial(layer))
      throw new UserError(
        `layer \`${name}\` has output shape [${String(layer.outputShape)}], not height × width × channels`,
        [],
        "Grad-CAM needs a convolutional layer's output",
      );
    return name;
  }
  const last = model.layers.filter(spatial).at(-1);
  if (!last)
    throw new UserError(
      'the model has no layer with height and width to explain (it reads feature vectors, not images)',
    );
  return last.name;
}

/**
 * The model as two halves around `layer`, and the class scores the
 * gradients are taken of: the logits when the model ends in a softmax dense
 * layer (a probability near 1 has almost no gradient), the outputs otherwise.
 */
export class GradCam {
  /** The model up to the layer (what `mapsPerClassList` may be given the output of). */
  readonly prefix: tf.LayersModel;
  private readonly suffix: tf.LayersModel;
  private readonly scores: (activations: tf.Tensor4D) => tf.Tensor2D;

  constructor(
    model: tf.LayersModel,
    readonly layer: string,
  ) {
    this.prefix = prefixModel(model, layer);
    this.suffix = suffixModel(model, layer);
    const output = this.suffix.outputs[0]!;
    const last = output.sourceLayer as tf.layers.Layer & { getConfig(): { activation?: string } };
    if (last.getClassName() === 'Dense' && last.getConfig().activation === 'softmax') {
      const beforeLast = last.inboundNodes[output.nodeIndex]!.inputTensors[0]!;
      const body = tf.model({ inputs: this.suffix.inputs, outputs: beforeLast });
      const [kernel, bias] = last.getWeights();
      this.scores = (a) => {
        const h = body.apply(a, { training: false }) as tf.Tensor2D;
        const logits = tf.matMul(h, kernel as tf.Tensor2D);
        return (bias ? tf.add(logits, bias) : logits) as tf.Tensor2D;
      };
    } else this.scores = (a) => this.suffix.apply(a, { training: false }) as tf.Tensor2D;
  }

  /** For each image of `x` (the model's prepared input), the map of the class at the same position of `classes`. */
  maps(x: tf.Tensor4D, classes: readonly number[]): ClassHeatmap[] {
    return this.mapsPerClassList(x, [classes])[0]!;
  }

  /**
   * For each list of `classLists`, as `maps` gives for it: the model up to
   * the layer runs once over `x` whatever the number of lists (most of the
   * work on a large base), and only the layers after it once per list.
   */
  mapsPerClassList(
    x: tf.Tensor4D,
    classLists: readonly (readonly number[])[],
    /** `prefix`'s output for x, when the caller has it (the stage cache's). */
    activationsOfX?: tf.Tensor,
  ): ClassHeatmap[][] {
    const [n, height, width] = x.shape;
    for (const classes of classLists)
      if (classes.length !== n) throw new Error(`${classes.length} classes for ${n} images`);
    const classes = classLists.flat();
    const maps = tf.tidy(() => {
      const once = activationsOfX ?? (this.prefix.apply(x, { training: false }) as tf.Tensor4D);
      const activations = classLists.length === 1 ? once : tf.concat(classLists.map(() => once));
      const numClasses = this.suffix.outputs[0]!.shape.at(-1) as number;
      const chosen = tf.oneHot(tf.tensor1d(classes as number[], 'int32'), numClasses).toFloat();
      // Each image's own class score; the images do not interact, so one gradient gives every image's.
      const gradient = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(this.scores(a as tf.Tensor4D), chosen)))(
        activations,
      ) as tf.Tensor4D;
      const channelWeights = tf.mean(gradient, [1, 2], true);
      const cam = tf.relu(tf.sum(tf.mul(activations, channelWeights), -1, true)) as tf.Tensor4D;
      const resized = tf.image.resizeBilinear(cam, [height, width]);
      const peak = tf.max(resized, [1, 2, 3], true);
      // An all-zero map (no positive evidence anywhere) stays zero rather than dividing by zero.
      return tf.div(resized, tf.maximum(peak, 1e-12)).reshape([classes.length, height * width]);
    });
    const data = maps.dataSync() as Float32Array;
    maps.dispose();
    const all = classes.map((classIndex, i) => ({
      classIndex,
      height,
      width,
      values: data.slice(i * height * width, (i + 1) * height * width),
    }));
    return classLists.map((_, l) => all.slice(l * n, (l + 1) * n));
  }
}
