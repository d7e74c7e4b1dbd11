import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PrefixActivations, type ActivationsCache } from '../../../src/engine/cache/prefix-activations.js';
import { prefixModel } from '../../../src/engine/model/split-model.js';
import { StageCacheFiles } from '../../../src/store/stage-cache-files.js';

/** A conv "base" (up to `features`) and a dense head, seeded. */
function model(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  const seed = (s: number): ReturnType<typeof tf.initializers.glorotUniform> =>
    tf.initializers.glorotUniform({ seed: s });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, kernelInitializer: seed(1), name: 'conv' }).apply(input);
  x = tf.layers.reLU({ name: 'features' }).apply(x);
  x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(x);
  const output = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: seed(2), name: 'out' }).apply(x);
  return tf.model({ inputs: input, outputs: output as tf.SymbolicTensor });
}

/** The real stage cache in a fresh folder, counting the activations it is given to keep and its evictions. */
function countingCache(): { cache: StageCacheFiles; writes: () => number; evictions: () => number } {
  const cache = new StageCacheFiles(mkdtempSync(path.join(tmpdir(), 'tlpipe-activations-')));
  let writes = 0;
  let evictions = 0;
  const write = cache.writeFeatures.bind(cache);
  cache.writeFeatures = (key, shape, data) => {
    writes++;
    return write(key, shape, data);
  };
  const writeMany = cache.writeManyFeatures.bind(cache);
  cache.writeManyFeatures = (entries) => {
    writes += entries.length;
    return writeMany(entries);
  };
  const evict = cache.evict.bind(cache);
  cache.evict = () => {
    evictions++;
    return evict();
  };
  return { cache, writes: () => writes, evictions: () => evictions };
}

/** `model()`'s conv layer is the frozen base's (no stage trains it) unless told otherwise. */
const kept = (cache: StageCacheFiles, untrained: string[] = ['conv'], backend = 'test'): ActivationsCache => ({
  cache,
  backend,
  onEvent: () => {},
  untrained: new Set(untrained),
});

const images = (seed: number, n = 3): tf.Tensor4D =>
  tf.randomUniform([n, 8, 8, 3], -1, 1, 'float32', seed) as tf.Tensor4D;

const bytes = (t: tf.Tensor): Buffer => Buffer.from((t.dataSync() as Float32Array).buffer);

/** Changes one value of a layer's first weight. */
function nudge(m: tf.LayersModel, layer: string): void {
  const [first, ...rest] = m.getLayer(layer).getWeights();
  const values = first!.dataSync().slice();
  values[0]! += 0.25;
  m.getLayer(layer).setWeights([tf.tensor(values, first!.shape), ...rest]);
}

describe("a model's activations at a layer, kept in the stage cache image by image", () => {
  const cases: {
    name: string;
    /** What happens between the run that keeps the activations and the next. */
    between: (m: tf.LayersModel, cache: StageCacheFiles) => void;
    /** The second run's backend ('test' as the first's unless told). */
    backend?: string;
    /** The images of the second run: seed 1's three again, or others. */
    second: () => tf.Tensor4D;
    writes: number;
  }[] = [
    { name: 'the same images again: read, none computed', between: () => {}, second: () => images(1), writes: 0 },
    {
      name: "the head's weights changed (a head-only re-run): still read",
      between: (m) => nudge(m, 'out'),
      second: () => images(1),
      writes: 0,
    },
    {
      name: "a weight below the layer changed: every image's computed again",
      between: (m) => nudge(m, 'conv'),
      second: () => images(1),
      writes: 3,
    },
    {
      name: 'another backend: every image computed again',
      between: () => {},
      second: () => images(1),
      backend: 'other',
      writes: 3,
    },
    {
      name: "one image's stored data with a byte flipped: that image computed again, not read",
      between: (_m, cache) => {
        const dir = path.join(cache.root, 'features');
        const file = path.join(dir, readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n))[0]!, 'data.bin');
        const data = readFileSync(file);
        data[0]! ^= 0x01;
        writeFileSync(file, data);
      },
      second: () => images(1),
      writes: 1,
    },
    {
      name: 'two images seen and one new: only the new one computed',
      between: () => {},
      second: () => tf.concat([images(1).slice(1, 2), images(9, 1), images(1).slice(0, 1)]) as tf.Tensor4D,
      writes: 1,
    },
  ];
  for (const c of cases)
    it(`${c.name}; the activations are the layer's own, bit for bit`, async () => {
      const m = model();
      const below = prefixModel(m, 'features');
      const { cache, writes } = countingCache();
      const first = images(1);
      const stored = await new PrefixActivations(below, kept(cache)).of(first);
      assert.equal(writes(), 3, 'the first run computes and keeps each image');
      assert.deepEqual(bytes(stored), bytes(below.predict(first) as tf.Tensor));
      c.between(m, cache);
      const x = c.second();
      const again = await new PrefixActivations(below, kept(cache, ['conv'], c.backend)).of(x);
      assert.equal(writes() - 3, c.writes);
      assert.deepEqual(bytes(again), bytes(below.predict(x) as tf.Tensor));
      m.dispose();
    });
});

describe('what the activations cache keeps, and what keeping costs', () => {
  it("a batch's entries are written with one eviction pass, not one per image (each pass stats the whole cache)", async () => {
    const m = model();
    const { cache, writes, evictions } = countingCache();
    await new PrefixActivations(prefixModel(m, 'features'), kept(cache)).of(images(1, 5));
    assert.equal(writes(), 5);
    assert.equal(evictions(), 1);
    m.dispose();
  });

  it('a layer below the explained one that the run trains (a seed CNN, a fine-tuned base): nothing kept', async () => {
    const m = model();
    const below = prefixModel(m, 'features');
    const { cache, writes } = countingCache();
    const x = images(1);
    const computed = await new PrefixActivations(below, kept(cache, [])).of(x);
    assert.equal(writes(), 0);
    assert.deepEqual(readdirSync(cache.root), [], 'no entry written');
    assert.deepEqual(bytes(computed), bytes(below.predict(x) as tf.Tensor));
    m.dispose();
  });
});
