import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '/work/main/dist/src/engine/backend.js';
await selectBackend('wasm');
try {
  const a = tf.zeros([600, 1000, 1000]);
  const b = tf.zeros([600, 1000, 1000]);
  console.log('allocated', tf.memory().numBytes / 2**30);
  const c = tf.add(a, b);
  console.log('added', c.shape);
} catch (e) { console.log('caught', e.constructor.name, String(e.message).slice(0, 300)); }
try { const d = tf.ones([10, 10]).sum().dataSync(); console.log('after: still works', d); } catch (e) { console.log('after: broken', String(e.message).slice(0, 200)); }
