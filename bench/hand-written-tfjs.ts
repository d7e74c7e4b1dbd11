/**
 * The same training as bench/compare-pytorch.ts's end-to-end pipeline,
 * written by hand with tfjs as someone without tlpipe would: the same MNIST
 * subset at 96×96, MobileNetV2 cut at out_relu run once over the images,
 * a dense head fitted with model.fit for the same epochs, evaluated on the
 * test images and saved. The runner-overhead ratio is tlpipe run's wall
 * time over this script's.
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/engine/kernels/backend.js';
import { readDataset, selectExamples } from '../src/engine/data/datasets.js';
import { buildBase } from '../src/engine/model/build-models.js';
import { imageBatch, preprocessingFor } from '../src/engine/data/preprocess.js';
import { loadZooArtifacts } from '../src/engine/model/zoo.js';

const [perClass, epochs] = process.argv.slice(2).map(Number) as [number, number];
await selectBackend('wasm');
const image = { size: [96, 96] as [number, number], channels: 3 as const, fit: 'fill' as const };
const mnist = await readDataset({ format: 'mnist', limit: {}, validation: 0, image });
const selection = selectExamples(mnist, { perClass, testPerClass: 10, validation: 0.1, seed: 42 });
const pre = preprocessingFor({ mean: [0, 0, 0], std: [1, 1, 1], description: 'unit' }, image);
const base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'out_relu', [96, 96, 3]);
const features = async (split: 'train' | 'test', indexes: number[]): Promise<tf.Tensor> => {
  const source = split === 'test' ? mnist.test! : mnist.train;
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < indexes.length; i += 32) {
    const x = imageBatch(await source.pixels(indexes.slice(i, i + 32)), pre);
    parts.push(tf.tidy(() => tf.mean(base.predict(x) as tf.Tensor, [1, 2])));
    x.dispose();
  }
  return tf.concat(parts);
};
const labels = (split: 'train' | 'test', indexes: number[]): tf.Tensor =>
  tf
    .oneHot(
      tf.tensor1d(
        indexes.map((i) => (split === 'test' ? mnist.test! : mnist.train).labels[i]!),
        'int32',
      ),
      10,
    )
    .toFloat();
const xTrain = await features('train', selection.train);
const xTest = await features('test', selection.test);
const head = tf.sequential({
  layers: [
    tf.layers.dense({ inputShape: [1280], units: 128, activation: 'relu' }),
    tf.layers.dense({ units: 10, activation: 'softmax' }),
  ],
});
head.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
await head.fit(xTrain, labels('train', selection.train), { epochs, batchSize: 32, shuffle: true, verbose: 0 });
const [, accuracy] = head.evaluate(xTest, labels('test', selection.test)) as tf.Scalar[];
console.log(`test accuracy ${accuracy!.dataSync()[0]!.toFixed(4)}`);
await head.save(
  tf.io.withSaveHandler(async () => ({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })),
);
