import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../../src/engine/kernels/backend.js';
import { ttaProbabilities, ttaViews } from '../../../src/engine/evaluate/test-time-augmentation.js';
import type { TtaTransform } from '../../../src/format/evaluation-keys.js';
import { parseTtaOption } from '../../../src/api/tta-option.js';

/** A batch of 2 images, 8×6 with 3 channels, every value different: a transform that moves pixels shows. */
const batch = (): tf.Tensor4D =>
  tf.tidy(
    () =>
      tf
        .range(0, 2 * 8 * 6 * 3)
        .reshape([2, 8, 6, 3])
        .div(288) as tf.Tensor4D,
  );

const maxDifference = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('test-time augmentation views', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  const sets: { transforms: TtaTransform[]; views: string[] }[] = [
    { transforms: ['flip'], views: ['identity', 'mirror'] },
    {
      transforms: ['crops'],
      views: ['identity', 'crop-top-left', 'crop-top-right', 'crop-bottom-left', 'crop-bottom-right', 'crop-centre'],
    },
    {
      transforms: ['flip', 'crops'],
      views: [
        'identity',
        'crop-top-left',
        'crop-top-right',
        'crop-bottom-left',
        'crop-bottom-right',
        'crop-centre',
        'mirror',
        'mirror+crop-top-left',
        'mirror+crop-top-right',
        'mirror+crop-bottom-left',
        'mirror+crop-bottom-right',
        'mirror+crop-centre',
      ],
    },
  ];
  for (const s of sets)
    it(`${s.transforms.join(',')}: ${s.views.length} views, each the input's shape, each different from the others`, () => {
      const views = ttaViews(s.transforms);
      assert.deepEqual(
        views.map((v) => v.name),
        s.views,
      );
      const x = batch();
      const outputs = views.map((v) => v.apply(x));
      for (const out of outputs) assert.deepEqual(out.shape, x.shape);
      assert.equal(maxDifference(outputs[0]!, x), 0, 'the first view is the image itself');
      for (let i = 0; i < outputs.length; i++)
        for (let j = i + 1; j < outputs.length; j++)
          assert.ok(maxDifference(outputs[i]!, outputs[j]!) > 1e-3, `${views[i]!.name} and ${views[j]!.name} differ`);
      tf.dispose([x, ...outputs]);
    });

  it('the mirror of the mirror is the image itself; the mirror reverses each row', () => {
    const mirror = ttaViews(['flip'])[1]!;
    const x = batch();
    const once = mirror.apply(x);
    const twice = mirror.apply(once);
    assert.equal(maxDifference(twice, x), 0);
    assert.equal(maxDifference(once, tf.reverse(x, 2)), 0);
    tf.dispose([x, once, twice]);
  });

  it('a crop of a constant image is the image; the top-left crop starts at the top-left pixel', () => {
    const crops = ttaViews(['crops']).slice(1);
    const flat = tf.fill([1, 10, 10, 3], 0.25) as tf.Tensor4D;
    for (const crop of crops) {
      const out = crop.apply(flat);
      assert.ok(maxDifference(out, flat) < 1e-6, crop.name);
      out.dispose();
    }
    const x = batch();
    const topLeft = crops[0]!.apply(x);
    assert.ok(maxDifference(topLeft.slice([0, 0, 0, 0], [2, 1, 1, 3]), x.slice([0, 0, 0, 0], [2, 1, 1, 3])) < 1e-6);
    tf.dispose([flat, x, topLeft]);
  });

  it('averaged probabilities: a model blind to mirroring gives the same with flip; crops change them; rows sum to 1', () => {
    // Global average pooling sees a mirrored image as the same image.
    const model = tf.sequential({
      layers: [
        tf.layers.globalAveragePooling2d({ inputShape: [8, 6, 3] }),
        tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ],
    });
    const x = batch();
    const plain = tf.softmax(model.predict(x) as tf.Tensor);
    const flipped = ttaProbabilities(model, x, ['flip'], 'logits');
    const cropped = ttaProbabilities(model, x, ['crops'], 'logits');
    assert.ok(maxDifference(flipped, plain) < 1e-5);
    assert.ok(maxDifference(cropped, plain) > 1e-5);
    assert.ok(maxDifference(tf.sum(cropped, -1), tf.ones([2])) < 1e-5);
    tf.dispose([x, plain, flipped, cropped]);
    model.dispose();
  });
});

describe('--tta as the command line gives it', () => {
  const cases: { given: string; transforms?: TtaTransform[]; problem?: RegExp }[] = [
    { given: 'flip', transforms: ['flip'] },
    { given: 'flip,crops', transforms: ['flip', 'crops'] },
    { given: ' crops , flip ', transforms: ['crops', 'flip'] },
    { given: 'flip,flip', transforms: ['flip'] },
    { given: 'wobble', problem: /unknown test-time augmentation `wobble`: the transforms are flip and crops/ },
    { given: 'flip,', problem: /--tta takes a list of transforms, got 'flip,'/ },
  ];
  for (const c of cases)
    it(`'${c.given}'`, () => {
      const parsed = parseTtaOption(c.given);
      if (c.transforms) assert.deepEqual(parsed, { transforms: c.transforms });
      else assert.match('problem' in parsed ? parsed.problem : '', c.problem!);
    });
});
