import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { DemoPageModel } from '../store/demo-page.js';
import { scriptJson } from './script-json.js';
import { TASK_RENDERS } from './tasks/registry.js';

/** tfjs's browser bundle, from the installed package: the page needs no network. */
async function tfjsBundle(): Promise<string> {
  const require = createRequire(import.meta.url);
  return readFile(
    path.join(path.dirname(require.resolve('@tensorflow/tfjs/package.json')), 'dist', 'tf.es2017.min.js'),
    'utf8',
  );
}

/**
 * One self-contained page, so it works opened from disk (file://), where a
 * browser refuses to fetch model.json: tfjs, the model and its weights are
 * inside. It prepares a picked image as preprocessing.json says — drawn at the
 * input size with the same fit (fill, cover, contain on black), alpha on
 * black, gray by BT.601 luma when the model takes one channel, then
 * `pixel · scale + offset` — and answers as the model's task shows it
 * (render/tasks: classification lists the classes by probability,
 * segmentation draws the mask over the image). An image
 * already at the input size is prepared exactly as tlpipe prepares it; others
 * are resized by the browser's canvas, not sharp's lanczos3.
 * `#image=<url>` classifies that image on load (and `backend=cpu` picks tfjs's
 * CPU backend): how the page is tested, and a link to share. An image that
 * cannot be read says so; only a model that fails to load says that.
 */
export async function renderDemoPage({
  modelTopology,
  weightSpecs,
  weights,
  labels,
  preprocessing,
  task,
  decision,
}: DemoPageModel): Promise<string> {
  const tfjs = await tfjsBundle();
  const model = { modelTopology, weightSpecs, weights: Buffer.from(weights).toString('base64') };
  const page = TASK_RENDERS[task ?? 'classification'].demoPage;
  // Its format rules refuse `export.demoPage` for a task that exports no page, so this is not reached from a pipeline.
  if (!page) throw new Error(`task ${task} exports no demo page`);
  const { view } = page;
  const extraJson = page.extraJson?.(labels) ?? '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${view.title}</title>
<style>body{font:15px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
canvas{border:1px solid #ccc;image-rendering:pixelated;width:128px;height:auto}table{border-collapse:collapse}td{padding:.15rem .6rem}
${view.style}#status{color:#666}</style></head>
<body>
<h1>${view.heading}</h1>
<p>Pick an image: it is prepared as the model was trained (<span id="prep"></span>) and ${view.done} here, offline.</p>
<p><input type="file" id="file" accept="image/*"></p>
<p id="status">loading the model…</p>
${view.canvases}
<table id="classes"></table>
<pre id="result" hidden></pre>
<script type="application/json" id="model">${scriptJson(model)}</script>
<script type="application/json" id="labels">${scriptJson(labels)}</script>
<script type="application/json" id="preprocessing">${scriptJson(preprocessing)}</script>
${decision ? `<script type="application/json" id="decision">${scriptJson(decision)}</script>\n` : ''}${extraJson}<script>${tfjs.replace(/<\/script/gi, '<\\/script')}</script>
<script>
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const labels = read('labels'), pre = read('preprocessing'), stored = read('model');
document.getElementById('prep').textContent = pre.description;
const status = (text) => { document.getElementById('status').textContent = text; };
async function load() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get('backend')) await tf.setBackend(params.get('backend'));
  const bytes = Uint8Array.from(atob(stored.weights), (c) => c.charCodeAt(0));
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: stored.modelTopology, weightSpecs: stored.weightSpecs, weightData: bytes.buffer }));
}
/** The image at the input size, as tlpipe's decoder makes it: fill stretches, cover crops the centre, contain pads with black. */
function draw(image) {
  const [h, w] = pre.inputSize;
  const canvas = document.getElementById('input');
  canvas.width = w; canvas.height = h;
  const g = canvas.getContext('2d');
  g.imageSmoothingQuality = 'high';
  g.fillStyle = '#000'; g.fillRect(0, 0, w, h);
  const iw = image.width, ih = image.height;
  if (pre.fit === 'cover') {
    const s = Math.max(w / iw, h / ih), cw = w / s, ch = h / s;
    g.drawImage(image, (iw - cw) / 2, (ih - ch) / 2, cw, ch, 0, 0, w, h);
  } else if (pre.fit === 'contain') {
    const s = Math.min(w / iw, h / ih), dw = iw * s, dh = ih * s;
    g.drawImage(image, (w - dw) / 2, (h - dh) / 2, dw, dh);
  } else g.drawImage(image, 0, 0, w, h);
  return g.getImageData(0, 0, w, h);
}
function input(pixels) {
  return tf.tidy(() => {
    let x = tf.browser.fromPixels(pixels, 3).toFloat();
    if (pre.channels === 1) x = tf.sum(tf.mul(x, tf.tensor1d([0.2989, 0.587, 0.114])), -1, true);
    return tf.add(tf.mul(x, tf.tensor1d(pre.scale.slice(0, pre.channels))), tf.tensor1d(pre.offset.slice(0, pre.channels))).expandDims(0);
  });
}
/** The image at url, decoded; one that cannot be read is said as such, not as a model that did not load. */
async function decoded(url) {
  const image = new Image();
  image.src = url;
  try {
    await image.decode();
  } catch (error) {
    throw new Error('the image could not be read (' + (error && error.message ? error.message : 'not an image the browser can decode') + ')');
  }
  return image;
}
${view.answer}load().then(async (model) => {
  status('pick an image');
  document.getElementById('file').addEventListener('change', (e) => {
    const file = e.target.files[0];
    if (file) ${view.answerName}(model, URL.createObjectURL(file)).catch((error) => status(error.message));
  });
  const image = new URLSearchParams(location.hash.slice(1)).get('image');
  if (image) await ${view.answerName}(model, image).catch((error) => status(error.message));
}, (error) => status('the model did not load: ' + error.message));
</script>
</body></html>
`;
}
