/**
 * Writes a zoo model's weights as plain float32 files for a peer outside
 * tfjs (bench/pytorch_seed_transfer.py loads MobileNetV2's into torchvision's):
 * <out>/index.json (name → shape, file) and one <name>.f32 per weight, decoded
 * from the model's uint8 quantization exactly as tfjs decodes it. Also the
 * base's output at a cut for a few real digits, so the peer checks its
 * conversion against tfjs.
 *
 *   node dist/bench/export-zoo-weights.js mobilenet_v2 block_13_expand_relu /tmp/mnv2
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadZooArtifacts } from '../src/engine/model/zoo.js';
import { buildBase } from '../src/engine/model/build-models.js';
import { mnistFiles } from '../src/engine/data/datasets.js';
import { parseIdx } from '../src/engine/data/idx-file.js';
import { readFileSync } from 'node:fs';

const [name = 'mobilenet_v2', cut = 'block_13_expand_relu', out = '/tmp/zoo-weights'] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const artifacts = loadZooArtifacts(name);
const weights = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
const index: Record<string, { shape: number[]; file: string }> = {};
for (const [weight, tensor] of Object.entries(weights)) {
  const file = `${weight.replace(/[^A-Za-z0-9_.-]/g, '_')}.f32`;
  writeFileSync(path.join(out, file), Buffer.from((tensor.dataSync() as Float32Array).buffer));
  index[weight] = { shape: tensor.shape, file };
}
writeFileSync(path.join(out, 'index.json'), JSON.stringify(index, null, 1));

// The base's output at the cut for 8 test digits at 64×64 (pixels / 255, resized as tlpipe resizes, repeated into 3 channels).
await tf.setBackend('cpu');
const base = await buildBase(artifacts, cut, [64, 64, 3]);
const images = parseIdx(readFileSync(mnistFiles().test.images));
const digits = tf.tidy(() => {
  const x = tf.tensor4d(
    Float32Array.from(images.data.subarray(0, 8 * 28 * 28), (v) => v / 255),
    [8, 28, 28, 1],
  );
  return tf.tile(tf.image.resizeBilinear(x, [64, 64]), [1, 1, 1, 3]);
});
const features = base.predict(digits) as tf.Tensor;
writeFileSync(path.join(out, 'probe-input.f32'), Buffer.from((digits.dataSync() as Float32Array).buffer));
writeFileSync(path.join(out, 'probe-output.f32'), Buffer.from((features.dataSync() as Float32Array).buffer));
writeFileSync(path.join(out, 'probe.json'), JSON.stringify({ cut, input: digits.shape, output: features.shape }));
console.log(`${Object.keys(index).length} weights and a probe at ${cut} (${features.shape.join('×')}) in ${out}`);
