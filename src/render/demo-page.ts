import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { classColour, MASK_OVERLAY_ALPHA } from '../format/dataset-formats/mask-palette.js';
import type { DemoPageModel } from '../store/demo-page.js';

/** tfjs's browser bundle, from the installed package: the page needs no network. */
async function tfjsBundle(): Promise<string> {
  const require = createRequire(import.meta.url);
  return readFile(
    path.join(path.dirname(require.resolve('@tensorflow/tfjs/package.json')), 'dist', 'tf.es2017.min.js'),
    'utf8',
  );
}

/** JSON inside a <script> element: `</script>` or `<!--` in a value cannot end or change it. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

/** What differs between the page that lists an image's classes and the one that draws its mask. */
interface PageView {
  title: string;
  heading: string;
  /** What the page does to the picked image, after "prepared as the model was trained and". */
  done: string;
  style: string;
  canvases: string;
  /** The script's function that answers for an image, `(model, url)`, and its name. */
  answer: string;
  answerName: string;
}

const CLASSIFICATION_VIEW: PageView = {
  title: 'classify an image',
  heading: 'Classify an image',
  done: 'classified',
  style: '.bar{background:#1f6feb;height:.7rem}',
  canvases: '<canvas id="input"></canvas>',
  answerName: 'classify',
  answer: `async function classify(model, url) {
  const image = await decoded(url);
  const x = input(draw(image));
  const p = Array.from(await model.predict(x).data());
  x.dispose();
  const ranked = labels.map((name, i) => ({ name, probability: p[i] })).sort((a, b) => b.probability - a.probability);
  document.getElementById('classes').innerHTML = '';
  for (const r of ranked.slice(0, 5)) {
    const row = document.getElementById('classes').insertRow();
    row.insertCell().textContent = r.name;
    row.insertCell().textContent = r.probability.toFixed(4);
    const bar = document.createElement('div'); bar.className = 'bar'; bar.style.width = (r.probability * 12) + 'rem';
    row.insertCell().appendChild(bar);
  }
  const result = document.getElementById('result');
  result.textContent = JSON.stringify({ backend: tf.getBackend(), probabilities: p, top: ranked[0].name });
  status(ranked[0].name + ' (' + ranked[0].probability.toFixed(4) + ')');
}
`,
};

/**
 * Each pixel's most likely class (argmax, as `tlpipe predict` takes it),
 * drawn over the prepared image as the report draws masks: class k > 0 mixed
 * with its colour by the palette's alpha, class 0 left as the image. Beside
 * it, each class's fraction of the pixels, as `predict --json` gives them.
 */
const SEGMENTATION_VIEW: PageView = {
  title: 'segment an image',
  heading: 'Segment an image',
  done: 'segmented',
  style: '.swatch{display:inline-block;width:.8rem;height:.8rem;border:1px solid #999}',
  canvases: '<canvas id="input"></canvas> <canvas id="mask"></canvas>',
  answerName: 'segment',
  answer: `const palette = read('palette');
async function segment(model, url) {
  const image = await decoded(url);
  const pixels = draw(image);
  const x = input(pixels);
  const classes = tf.tidy(() => tf.argMax(model.predict(x), -1));
  const mask = await classes.data();
  tf.dispose([x, classes]);
  const counts = labels.map(() => 0);
  const overlay = new ImageData(pixels.width, pixels.height);
  for (let p = 0; p < mask.length; p++) {
    const k = mask[p], colour = palette.colours[k], a = k === 0 ? 0 : palette.alpha;
    counts[k]++;
    for (let c = 0; c < 3; c++) overlay.data[p * 4 + c] = Math.round((1 - a) * pixels.data[p * 4 + c] + a * colour[c]);
    overlay.data[p * 4 + 3] = 255;
  }
  const canvas = document.getElementById('mask');
  canvas.width = pixels.width; canvas.height = pixels.height;
  canvas.getContext('2d').putImageData(overlay, 0, 0);
  const fractions = Object.fromEntries(labels.map((name, k) => [name, counts[k] / mask.length]));
  document.getElementById('classes').innerHTML = '';
  labels.forEach((name, k) => {
    const row = document.getElementById('classes').insertRow();
    const swatch = document.createElement('span'); swatch.className = 'swatch';
    swatch.style.background = 'rgb(' + palette.colours[k].join(',') + ')';
    row.insertCell().appendChild(swatch);
    row.insertCell().textContent = name;
    row.insertCell().textContent = fractions[name].toFixed(4);
  });
  const result = document.getElementById('result');
  result.textContent = JSON.stringify({ backend: tf.getBackend(), fractions });
  status('segmented: ' + labels.filter((name) => fractions[name] > 0).join(', '));
}
`,
};

/** The mask palette's colour of every class and its alpha, as the report draws masks with them. */
const paletteJson = (classes: number): string =>
  `<script type="application/json" id="palette">${scriptJson({
    colours: Array.from({ length: classes }, (_, k) => classColour(k)),
    alpha: MASK_OVERLAY_ALPHA,
  })}</script>\n`;

/**
 * One self-contained page, so it works opened from disk (file://), where a
 * browser refuses to fetch model.json: tfjs, the model and its weights are
 * inside. It prepares a picked image as preprocessing.json says — drawn at the
 * input size with the same fit (fill, cover, contain on black), alpha on
 * black, gray by BT.601 luma when the model takes one channel, then
 * `pixel · scale + offset` — and lists the classes by probability, or, for
 * a segmentation model (`task`), draws its mask over the image and lists each
 * class's fraction of the pixels. An image
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
}: DemoPageModel): Promise<string> {
  const tfjs = await tfjsBundle();
  const model = { modelTopology, weightSpecs, weights: Buffer.from(weights).toString('base64') };
  const view = task === 'segmentation' ? SEGMENTATION_VIEW : CLASSIFICATION_VIEW;
  const extraJson = task === 'segmentation' ? paletteJson(labels.length) : '';
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
${extraJson}<script>${tfjs.replace(/<\/script/gi, '<\\/script')}</script>
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
