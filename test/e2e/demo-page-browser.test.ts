import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import { browserSkip, CHROMIUM, chromiumFlags } from './browser-harness.js';
import { tlpipe, workspace, write } from './cli-harness.js';
import { SWEEP_PIPELINE } from './sweep-harness.js';

/** The page's answer for `image`, as headless Chromium computes it from the file on disk (file://, no server). */
function classifyInBrowser(page: string, image: string): { backend: string; probabilities: number[]; top: string } {
  const dataUrl = `data:image/png;base64,${readFileSync(image).toString('base64')}`;
  const dom = execFileSync(
    CHROMIUM!,
    [
      ...chromiumFlags(),
      '--virtual-time-budget=60000',
      '--dump-dom',
      `file://${page}#backend=cpu&image=${encodeURIComponent(dataUrl)}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 << 20 },
  );
  const result = /<pre id="result"[^>]*>([^<]+)<\/pre>/.exec(dom);
  assert.ok(result, `no result in the page: ${/<p id="status">[^<]*/.exec(dom)?.[0]}`);
  return JSON.parse(result[1]!.replace(/&quot;/g, '"'));
}

/** What the page's status line says once it has tried `image`. */
function statusOf(page: string, image: string): string {
  const dom = execFileSync(
    CHROMIUM!,
    [
      ...chromiumFlags(),
      '--virtual-time-budget=60000',
      '--allow-file-access-from-files',
      '--dump-dom',
      `file://${page}#backend=cpu&image=${encodeURIComponent(image)}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 << 20 },
  );
  return /<p id="status">([^<]*)/.exec(dom)?.[1] ?? '';
}

/** index.html beside the exported model classifies an image in a browser, offline, as tlpipe predict does in Node. */
describe("the exported model's demo page in a real browser (headless Chromium)", { skip: browserSkip }, () => {
  const dir = workspace('demo-page');
  const file = write(dir, 'd.yaml', SWEEP_PIPELINE('', 3).replace(/sweep:\n[\s\S]*$/, 'export: { quantize: uint8 }\n'));

  it('opened from disk, with tfjs and the weights inside: the same top class and probabilities as predict, for the float and the uint8 model', async () => {
    const r = await tlpipe(['run', file, '--runs', path.join(dir, 'runs')], dir);
    assert.equal(r.code, 0, r.stderr);
    const run = path.join(
      dir,
      'runs',
      'grid',
      readdirSync(path.join(dir, 'runs', 'grid')).find((n) => /^\d{4}-/.test(n))!,
    );
    // A real test digit at the model's input size (32×32), so both sides prepare it without resizing.
    const images = parseIdx(readFileSync(mnistFiles().test.images));
    const image = path.join(dir, 'digit.png');
    await sharp(Buffer.from(images.data.subarray(7 * 784, 8 * 784)), { raw: { width: 28, height: 28, channels: 1 } })
      .resize(32, 32)
      .png()
      .toFile(image);
    const predicted = JSON.parse((await tlpipe(['predict', run, image, '--json', '--top', '10'], dir)).stdout) as {
      top: { label: string; probability: number }[];
    };
    const page = classifyInBrowser(path.join(run, 'model', 'index.html'), image);
    assert.equal(page.backend, 'cpu');
    assert.equal(page.top, predicted.top[0]!.label);
    const labels = JSON.parse(readFileSync(path.join(run, 'model', 'labels.json'), 'utf8')) as string[];
    for (const { label, probability } of predicted.top)
      assert.ok(
        Math.abs(page.probabilities[labels.indexOf(label)]! - probability) < 1e-4,
        `${label}: ${page.probabilities[labels.indexOf(label)]} vs ${probability}`,
      );
    const quantized = classifyInBrowser(path.join(run, 'model-uint8', 'index.html'), image);
    assert.equal(quantized.top, page.top);
    assert.ok(
      statSync(path.join(run, 'model-uint8', 'index.html')).size < statSync(path.join(run, 'model', 'index.html')).size,
    );
    // Nothing is fetched: no script or link points outside the page.
    const html = readFileSync(path.join(run, 'model', 'index.html'), 'utf8');
    assert.equal(/<script[^>]+src=|<link[^>]+href=|https?:\/\/cdn/i.test(html), false);
    // An image that cannot be read is said as such: the model loaded.
    for (const image of ['data:image/png;base64,bm90IGFuIGltYWdl', `file://${path.join(dir, 'nowhere.png')}`]) {
      const shown = statusOf(path.join(run, 'model', 'index.html'), image);
      assert.match(shown, /the image could not be read/);
      assert.doesNotMatch(shown, /the model did not load/);
    }
  });
});
