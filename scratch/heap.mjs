import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '/work/main/dist/src/engine/backend.js';
import { buildBase, buildHeadLayers, composeModel } from '/work/main/dist/src/engine/models.js';
import { loadZooArtifacts } from '/work/main/dist/src/engine/zoo.js';
await selectBackend('wasm');
const size = Number(process.argv[2]), batch = Number(process.argv[3]), unfreezeAll = process.argv[4] === 'all';
const base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'out_relu', [size, size, 3]);
for (const l of base.layers) l.trainable = unfreezeAll || /^(block_16|Conv_1)/.test(l.name);
const model = composeModel(base, buildHeadLayers([{ type: 'globalAveragePooling2d' }, { type: 'dense', units: 10, activation: 'softmax', useBias: true }], 1), 'm');
const heap = () => tf.backend().wasm.HEAPU8.length / 2 ** 20;
const elements = base.layers.reduce((s, l) => s + (Array.isArray(l.outputShape[0]) ? 0 : l.outputShape.slice(1).reduce((a, b) => a * b, 1)), 0);
const x = tf.randomUniform([batch, size, size, 3]); const y = tf.oneHot(tf.zeros([batch], 'int32'), 10).toFloat();
const before = heap();
const vars = model.trainableWeights.map((w) => w.read());
const t = performance.now();
try {
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }))), vars);
  tf.dispose([value, grads]);
  console.log(JSON.stringify({ size, batch, unfreezeAll, activationMiBPerExample: elements * 4 / 2 ** 20, heapBeforeMiB: before, heapAfterMiB: heap(), seconds: (performance.now() - t) / 1000 }));
} catch (e) { console.log(JSON.stringify({ size, batch, unfreezeAll, error: String(e.message).slice(0, 100), heapMiB: heap() })); }
