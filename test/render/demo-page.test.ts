import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { classColour, MASK_OVERLAY_ALPHA } from '../../src/format/dataset-formats/mask-palette.js';
import { renderDemoPage } from '../../src/render/demo-page.js';
import { writeFileAtomic } from '../../src/store/atomic-write.js';
import { DEMO_PAGE, DEMO_PAGE_MAX_WEIGHT_BYTES, writeDemoPage } from '../../src/store/demo-page.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-demo-page-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;

/** A label that would end the page's script element if it were pasted in as it is. */
const HOSTILE = '</script><script>alert(1)</script>';
const IMAGE = {
  kind: 'image',
  inputSize: [8, 8],
  channels: 3,
  fit: 'fill',
  scale: [1, 1, 1],
  offset: [0, 0, 0],
  description: 'pixels / 255',
};

/** An exported model's folder: a dense layer's topology and 40 bytes of weights. */
function modelFolder(preprocessing: object, weightBytes = 40): string {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  const weights = [
    { name: 'dense/kernel', shape: [4, 2], dtype: 'float32' },
    { name: 'dense/bias', shape: [2], dtype: 'float32' },
  ];
  writeFileSync(
    path.join(dir, 'model.json'),
    JSON.stringify({
      modelTopology: { class_name: 'Sequential' },
      weightsManifest: [{ paths: ['weights.bin'], weights }],
    }),
  );
  writeFileSync(path.join(dir, 'weights.bin'), Buffer.alloc(weightBytes, 7));
  writeFileSync(path.join(dir, 'labels.json'), JSON.stringify(['cat', HOSTILE]));
  writeFileSync(path.join(dir, 'preprocessing.json'), JSON.stringify(preprocessing));
  return dir;
}

describe('the demo page beside an exported model', () => {
  it('carries the model, its weights, labels and preprocessing, and tfjs; no value can end its script elements', async () => {
    const dir = modelFolder(IMAGE);
    assert.equal(await writeDemoPage(dir, writeFileAtomic, renderDemoPage), true);
    const page = readFileSync(path.join(dir, DEMO_PAGE), 'utf8');
    const json = (id: string): unknown =>
      JSON.parse(new RegExp(`<script type="application/json" id="${id}">(.*?)</script>`).exec(page)![1]!);
    assert.deepEqual(json('labels'), ['cat', HOSTILE]);
    assert.deepEqual(json('preprocessing'), IMAGE);
    assert.deepEqual(json('model'), {
      modelTopology: { class_name: 'Sequential' },
      weightSpecs: [
        { name: 'dense/kernel', shape: [4, 2], dtype: 'float32' },
        { name: 'dense/bias', shape: [2], dtype: 'float32' },
      ],
      weights: Buffer.alloc(40, 7).toString('base64'),
    });
    assert.ok(!page.includes(HOSTILE), 'the hostile label is not in the page as it is');
    assert.ok(page.includes('e.loadLayersModel='), "tfjs's browser bundle is inside the page");
  });

  /** What tells the two pages apart: the mask canvas and the palette, on a segmentation model's page only. */
  const pages: { name: string; task?: 'segmentation'; heading: RegExp; palette: boolean }[] = [
    {
      name: 'a classification model: the page that lists classes, no palette',
      heading: /Classify an image/,
      palette: false,
    },
    {
      name: "a segmentation model: the page that draws masks, with the report's palette and alpha",
      task: 'segmentation',
      heading: /Segment an image/,
      palette: true,
    },
  ];
  for (const c of pages) {
    it(c.name, async () => {
      const dir = modelFolder(IMAGE);
      assert.equal(await writeDemoPage(dir, writeFileAtomic, renderDemoPage, c.task ? { task: c.task } : {}), true);
      const page = readFileSync(path.join(dir, DEMO_PAGE), 'utf8');
      assert.match(page, c.heading);
      assert.equal(page.includes('<canvas id="mask">'), c.palette);
      const palette = /<script type="application\/json" id="palette">(.*?)<\/script>/.exec(page);
      assert.equal(palette !== null, c.palette);
      if (palette)
        assert.deepEqual(JSON.parse(palette[1]!), {
          colours: [classColour(0), classColour(1)],
          alpha: MASK_OVERLAY_ALPHA,
        });
    });
  }

  const skipped: { name: string; preprocessing: object; weightBytes?: number; always?: boolean; written: boolean }[] = [
    {
      name: 'a tabular model: none',
      preprocessing: { kind: 'tabular', columns: ['a'], mean: [0], std: [1], description: 'z-scores' },
      written: false,
    },
    {
      name: 'weights too big for a page: none',
      preprocessing: IMAGE,
      weightBytes: DEMO_PAGE_MAX_WEIGHT_BYTES + 1,
      written: false,
    },
    {
      name: 'weights too big, but asked for (`export.demoPage: true`): written',
      preprocessing: IMAGE,
      weightBytes: DEMO_PAGE_MAX_WEIGHT_BYTES + 1,
      always: true,
      written: true,
    },
  ];
  for (const c of skipped) {
    it(c.name, async () => {
      const dir = modelFolder(c.preprocessing);
      // A sparse file: its size is what counts, not its bytes.
      if (c.weightBytes !== undefined) truncateSync(path.join(dir, 'weights.bin'), c.weightBytes);
      const render = async (): Promise<string> =>
        c.written ? '<p>page</p>' : assert.fail('rendered a page that is not written');
      assert.equal(
        await writeDemoPage(dir, writeFileAtomic, render, { ...(c.always ? { always: true } : {}) }),
        c.written,
      );
      assert.equal(existsSync(path.join(dir, DEMO_PAGE)), c.written);
    });
  }
});
