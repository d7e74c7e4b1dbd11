import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { plan } from '../../src/api/plan.js';
import { validate } from '../../src/api/validate.js';
import { selectBackend } from '../../src/engine/kernels/backend.js';
import { fileModelHandler } from '../../src/store/model-folder.js';

/**
 * `validate` checks the head against what it receives where the spec alone
 * says what that is (a zoo base: a feature map; `base: none`: the rows or
 * the images themselves), and the planner checks it against the base it
 * built. The two must never disagree: tabular CSV once shipped with
 * `validate` asking for `flatten` before `dense` and `plan` refusing it, so
 * no file passed both. Each case runs both on the same file.
 */

const ROWS_CSV = [
  'a,b,c,label',
  ...Array.from({ length: 24 }, (_, i) => `${i % 3},${(i * 7) % 5},${i / 10},k${i % 2}`),
].join('\n');

/** What the head receives in each setting, and the pipeline's dataset and base for it. */
const SETTINGS = [
  {
    name: 'rows, base: none',
    input: 'rows',
    yaml: 'dataset: { format: csv, file: rows.csv, featureColumns: [a, b, c] }\nbase: { model: none }\n',
  },
  {
    name: 'rows, a dense model.json base',
    input: 'rows',
    yaml: 'dataset: { format: csv, file: rows.csv, featureColumns: [a, b, c] }\nbase: { model: dense/model.json, cut: hidden }\n',
  },
  {
    name: 'images, base: none',
    input: 'images',
    yaml: 'dataset: { format: mnist, limit: { perClass: 2, testPerClass: 1 }, image: { size: [28, 28], channels: 1 } }\nbase: { model: none }\n',
  },
  {
    name: 'images, a zoo base',
    input: 'images',
    yaml: 'dataset: { format: mnist, limit: { perClass: 2, testPerClass: 1 }, image: { size: [32, 32] } }\nbase: { model: mobilenet_v2 }\n',
  },
] as const;

const CLASSES = '  - dense: { units: classes, activation: softmax }\n';

/** Heads, with whether they fit rows (a vector) and images (a feature map): the table the checks must both follow. */
const HEADS = [
  { name: 'dense only', head: CLASSES, fits: { rows: true, images: false } },
  {
    name: 'dense, dense',
    head: '  - dense: { units: 8, activation: relu }\n' + CLASSES,
    fits: { rows: true, images: false },
  },
  { name: 'flatten, dense', head: '  - flatten: {}\n' + CLASSES, fits: { rows: false, images: true } },
  {
    name: 'global pooling, dense',
    head: '  - globalAveragePooling2d: {}\n' + CLASSES,
    fits: { rows: false, images: true },
  },
  {
    name: 'conv2d, flatten, dense',
    head: '  - conv2d: { filters: 2, kernelSize: 3 }\n  - flatten: {}\n' + CLASSES,
    fits: { rows: false, images: true },
  },
  { name: 'flatten twice', head: '  - flatten: {}\n  - flatten: {}\n' + CLASSES, fits: { rows: false, images: false } },
] as const;

const TRAIN = 'train: { stages: [{ epochs: 1 }] }\n';

describe('validate and plan agree on every head, for every kind of base', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tlpipe-agree-'));
    writeFileSync(path.join(dir, 'rows.csv'), ROWS_CSV + '\n');
    await selectBackend('cpu');
    const dense = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [3], units: 4, activation: 'relu', name: 'hidden' }),
        tf.layers.dense({ units: 2, name: 'top' }),
      ],
    });
    await dense.save(fileModelHandler(path.join(dir, 'dense')));
    dense.dispose();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const setting of SETTINGS) {
    for (const head of HEADS) {
      it(`${setting.name}: ${head.name}`, async () => {
        const file = path.join(dir, 'pipeline.yaml');
        const input = { yaml: `${setting.yaml}head:\n${head.head}${TRAIN}`, path: file };
        const early = await validate(input);
        const planned = await plan(input, { runsDir: path.join(dir, 'runs'), backend: 'cpu' });
        const fits = head.fits[setting.input];
        const said = (o: { diagnostics: { message: string }[] }): string =>
          o.diagnostics.map((d) => d.message).join('; ');
        assert.equal(planned.ok, fits, `plan ${fits ? 'refused' : 'accepted'} it: ${said(planned)}`);
        if (setting.name.includes('model.json')) {
          // The early check cannot know a model.json base's output: it leaves the head to the planner, never refusing one the planner takes.
          assert.ok(early.ok, `validate refused it: ${said(early)}`);
        } else {
          assert.equal(early.ok, planned.ok, `validate: ${said(early) || 'ok'}; plan: ${said(planned) || 'ok'}`);
          if (!early.ok)
            assert.deepEqual(
              early.diagnostics.map((d) => d.path),
              planned.diagnostics.map((d) => d.path),
            );
        }
      });
    }
  }
});
