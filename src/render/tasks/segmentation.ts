import { classColour, MASK_OVERLAY_ALPHA } from '../../format/dataset-formats/mask-palette.js';
import { scriptJson } from '../script-json.js';
import { segmentationSection } from '../segmentation-report.js';
import { renderStagedReport } from '../staged-report.js';
import type { PageView, TaskRender } from './task-render.js';

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

/** Segmentation: the staged report with per-class IoU and the worst masks; a page that draws the mask over the picked image. */
export const segmentationRender: TaskRender = {
  report: (sources) => {
    const { summary } = sources;
    return renderStagedReport(
      sources,
      segmentationSection(
        summary?.test && 'meanIoU' in summary.test ? summary.test : undefined,
        sources.taskFiles.masks,
        summary?.baseline?.test && 'meanIoU' in summary.baseline.test ? summary.baseline.test : undefined,
      ),
    );
  },
  demoPage: { view: SEGMENTATION_VIEW, extraJson: (labels) => paletteJson(labels.length) },
};
