import type { SegmentationTestMetrics } from '../engine/tasks/segmentation/evaluate-masks.js';
import type { StoredMaskOverlay } from '../store/mask-gallery-file.js';
import { escapeHtml as escape } from './report-charts.js';

const fixed = (n: number | null | undefined, digits = 4): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);

/**
 * What a segmentation run's report says of its test split, in place of
 * classification's: mean IoU and pixel accuracy as the headline, IoU per
 * class, and the worst test images with their true and predicted masks.
 */
export function segmentationSection(
  test: SegmentationTestMetrics | undefined,
  masks: readonly StoredMaskOverlay[] | undefined,
  baseline?: SegmentationTestMetrics,
): { headline: string; body: string } {
  if (!test) return { headline: 'no test split', body: '' };
  const scratch = baseline
    ? `; the scratch baseline's mean IoU <b id="baseline-mean-iou">${fixed(baseline.meanIoU)}</b>, pixel accuracy ${fixed(baseline.pixelAccuracy)}`
    : '';
  const headline = `test mean IoU <b id="test-mean-iou">${fixed(test.meanIoU)}</b>, pixel accuracy ${fixed(test.pixelAccuracy)}, test loss ${fixed(test.loss)} (${test.examples} images)${scratch}`;
  const rows = Object.entries(test.perClass)
    .map(
      ([name, c]) =>
        `<tr><td>${escape(name)}</td><td>${fixed(c.iou, 3)}</td><td>${c.pixels.toLocaleString('en-US')}</td></tr>`,
    )
    .join('');
  const perClass = `<h2>IoU per class (test)</h2><table id="class-iou"><tr><th>class</th><th>IoU</th><th>true pixels</th></tr>${rows}</table>
<p class="note">IoU = true positives / (true positives + false positives + false negatives) over every test pixel; a class in neither the truth nor the prediction has none (–) and is left out of the mean, as Keras' MeanIoU does.</p>`;
  return { headline, body: `${perClass}${worstMasks(masks)}` };
}

/** The worst test images: the true mask over the image beside the predicted one. */
function worstMasks(masks: readonly StoredMaskOverlay[] | undefined): string {
  if (!masks || masks.length === 0) return '';
  const img = (png: string, alt: string): string =>
    `<img src="data:image/png;base64,${png}" alt="${escape(alt)}" width="128" height="128">`;
  const cells = masks
    .map(
      (m) =>
        `<figure>${img(m.truth, `true mask of ${m.example}`)}${img(m.predicted, `predicted mask of ${m.example}`)}<figcaption>${escape(m.example)}<br>mean IoU ${fixed(m.meanIoU, 3)}</figcaption></figure>`,
    )
    .join('');
  return `<h2>Worst test images (true mask, predicted mask)</h2><div class="gallery" id="worst-masks">${cells}</div>`;
}
