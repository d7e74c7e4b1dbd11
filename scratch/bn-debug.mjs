import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '/work/main/dist/src/engine/backend.js';
import { buildBase } from '/work/main/dist/src/engine/models.js';
import { loadZooArtifacts } from '/work/main/dist/src/engine/zoo.js';
await selectBackend('wasm');
const base = await buildBase(loadZooArtifacts('mobilenet_v2'), 'block_2_add', [32, 32, 3]);
const topo = base.toJSON(null, false);
const bnLayers = topo.config.layers.filter(l => l.class_name === 'BatchNormalization');
console.log('bn layers', bnLayers.length, 'momentum', bnLayers[0].config.momentum);
const m = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topo }));
const mm = m.weights.find(w => /moving_mean/.test(w.originalName));
console.log(mm.originalName, mm.read().dataSync().slice(0, 3));
const x = tf.randomUniform([8, 32, 32, 3]);
for (const l of m.layers) l.trainable = true;
const vars = m.trainableWeights.map(w => w.read());
for (let i = 0; i < 3; i++) { const { value, grads } = tf.variableGrads(() => tf.mean(m.apply(x, { training: true })), vars); tf.dispose([value, grads]); }
console.log(mm.originalName, mm.read().dataSync().slice(0, 3));
