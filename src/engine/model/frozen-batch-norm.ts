import tf from '../tfjs.cjs';

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
const PATCHED = Symbol('tlpipe.frozenBatchNorm');
const TRAIN_STATISTICS = Symbol('tlpipe.batchNormTrains');

/**
 * tfjs-layers' BatchNormalization looks only at the `training` flag: inside
 * fit() or any training step it normalises with the batch's statistics and
 * writes new moving mean/variance, even when the layer is not trainable.
 * That silently changes a "frozen" base. Keras (since 2.1.3) defines a
 * non-trainable BatchNormalization to run in inference mode; this gives
 * tfjs the same meaning. Going further, a trainable one also stays in
 * inference mode unless the stage's policy says `batchNorm: train` (see
 * setBatchNormPolicy): fine-tuning with a small batch should not replace
 * the pretrained statistics. Both are checked at each call.
 */
export function enforceFrozenBatchNorm(model: tf.LayersModel): number {
  let patched = 0;
  for (const layer of allLayers(model)) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const target = layer as unknown as { call: CallFn; [PATCHED]?: true };
    if (target[PATCHED]) continue;
    const original = target.call.bind(layer);
    target.call = (inputs, kwargs) =>
      original(inputs, {
        ...kwargs,
        training:
          layer.trainable && (layer as unknown as Record<symbol, boolean>)[TRAIN_STATISTICS]
            ? kwargs['training']
            : false,
      });
    target[PATCHED] = true;
    patched++;
  }
  return patched;
}

/** Every layer, descending into nested models. */
export function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((layer) => (layer instanceof tf.LayersModel ? [layer, ...allLayers(layer)] : [layer]));
}

/** frozen: batch norm always runs in inference mode. train: trainable batch norm layers use batch statistics while training. */
export function setBatchNormPolicy(model: tf.LayersModel, policy: 'frozen' | 'train'): void {
  for (const layer of allLayers(model)) {
    if (layer.getClassName() === 'BatchNormalization')
      (layer as unknown as Record<symbol, boolean>)[TRAIN_STATISTICS] = policy === 'train';
  }
}
