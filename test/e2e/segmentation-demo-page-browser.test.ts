import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { browserSkip, CHROMIUM, chromiumFlags } from './browser-harness.js';
import { tlpipeBounded, workspace, write } from './cli-harness.js';
import { TEXTURES as FIXTURE, TEXTURE_CLASSES as CLASSES, texturesPipeline } from './texture-segmentation.js';

/** The zoo's mobilenet_v2 encoder with a small decoder at 64×64, one short stage: a model, not a good one. */
const PIPELINE = texturesPipeline({
  cut: 'block_6_expand_relu',
  head: [
    'upsample: { filters: 16, size: 3 }',
    'upsample: { filters: 16, size: 3 }',
    'conv2dTranspose: { filters: classes, kernelSize: 3, strides: 2, padding: same }',
  ],
  train: ['batchSize: 4', 'stages:', '  - { name: decoder, epochs: 1, optimizer: { learningRate: 0.01 } }'],
});

/** Generous: training takes seconds alone; two suites share two cores. */
const BOUND_MS = 180_000;

interface PageAnswer {
  backend: string;
  fractions: Record<string, number>;
  /** Pixels of the mask canvas that differ from the prepared image under it. */
  coloured: number;
}

/**
 * The page's answer for `image`, from a copy of it opened from disk in
 * headless Chromium, with a script added that waits for the answer and then
 * compares the drawn mask canvas with the prepared image, pixel by pixel.
 */
function segmentInBrowser(page: string, image: string): PageAnswer {
  // The page may answer before the parser reaches this script (it yields while parsing a page of several MB, and the
  // answer's tasks can run first): an answer already there is checked at once, a later one when it appears.
  const check = `<script>(() => {
  const result = document.getElementById('result');
  const measure = () => {
    const pixels = (id) => { const c = document.getElementById(id); return c.getContext('2d').getImageData(0, 0, c.width, c.height).data; };
    const drawn = pixels('mask'), prepared = pixels('input');
    let coloured = 0;
    for (let p = 0; p < drawn.length; p += 4)
      if (drawn[p] !== prepared[p] || drawn[p + 1] !== prepared[p + 1] || drawn[p + 2] !== prepared[p + 2]) coloured++;
    const pre = document.createElement('pre'); pre.id = 'check';
    pre.textContent = JSON.stringify({ ...JSON.parse(result.textContent), coloured });
    document.body.append(pre);
  };
  if (result.textContent) return measure();
  new MutationObserver((_, observer) => {
    if (!result.textContent) return;
    observer.disconnect();
    measure();
  }).observe(result, { childList: true, characterData: true, subtree: true });
})();</script>`;
  const copy = `${page}.check.html`;
  writeFileSync(copy, readFileSync(page, 'utf8').replace(/<\/body><\/html>\s*$/, `${check}</body></html>\n`));
  const dataUrl = `data:image/jpeg;base64,${readFileSync(image).toString('base64')}`;
  const dom = execFileSync(
    CHROMIUM!,
    [
      ...chromiumFlags(),
      '--virtual-time-budget=60000',
      '--dump-dom',
      `file://${copy}#backend=cpu&image=${encodeURIComponent(dataUrl)}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 << 20 },
  );
  const found = /<pre id="check">([^<]+)<\/pre>/.exec(dom);
  assert.ok(found, `no answer in the page: ${/<p id="status">[^<]*/.exec(dom)?.[0]}`);
  return JSON.parse(found[1]!.replace(/&quot;/g, '"')) as PageAnswer;
}

/** index.html beside a segmentation model segments a picked image in a browser, offline, as tlpipe predict does in Node. */
describe("a segmentation model's demo page in a real browser (headless Chromium)", { skip: browserSkip }, () => {
  const dir = workspace('segmentation-page');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('opened from disk: the class fractions predict --json prints, and the mask drawn over the image', async () => {
    write(dir, 'textures.yaml', PIPELINE);
    const r = await tlpipeBounded(['run', 'textures.yaml'], dir, { timeoutMs: BOUND_MS });
    assert.equal(r.code, 0, r.stderr);
    const runs = path.join(dir, 'runs', 'textures');
    const run = path.join(
      runs,
      readdirSync(runs).find((name) => /^\d{4}-/.test(name))!,
    );
    // Fixture images are at the model's input size (64×64): both sides prepare them without resizing.
    const images = readdirSync(path.join(FIXTURE, 'images')).map((f) => path.join(FIXTURE, 'images', f));
    const predicted = await tlpipeBounded(['predict', run, ...images, '--json'], dir, { timeoutMs: BOUND_MS });
    assert.equal(predicted.code, 0, predicted.stderr);
    const answers = predicted.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { file: string; segmentation: { fractions: Record<string, number> } });
    // The image with the most pixels outside class 0, the class drawn as the image itself.
    const [picked] = answers.sort(
      (a, b) => a.segmentation.fractions[CLASSES[0]!]! - b.segmentation.fractions[CLASSES[0]!]!,
    );
    const expected = picked!.segmentation.fractions;
    assert.ok(expected[CLASSES[0]!]! < 1, `every image is all ${CLASSES[0]}: nothing would be coloured`);

    const page = segmentInBrowser(path.join(run, 'model', 'index.html'), picked!.file);
    assert.equal(page.backend, 'cpu');
    assert.deepEqual(Object.keys(page.fractions), CLASSES);
    for (const name of CLASSES)
      assert.ok(
        Math.abs(page.fractions[name]! - expected[name]!) < 1e-4,
        `${name}: ${page.fractions[name]} in the page vs ${expected[name]} from predict`,
      );
    // Pixels of class k > 0 are mixed with k's colour; the canvas is not the bare image.
    const outsideClass0 = Math.round((1 - page.fractions[CLASSES[0]!]!) * 64 * 64);
    assert.ok(page.coloured > 0 && page.coloured <= outsideClass0, `${page.coloured} of ${outsideClass0} coloured`);
  });
});
