import type { TtaMetrics } from '../engine/evaluate/metrics.js';
import { escapeHtml as escape } from './report-charts.js';

/** What the section reads of the test metrics (a run written before calibration has none). */
interface Compared {
  accuracy: number;
  loss: number;
  topK: Record<string, number>;
  calibration?: { ece: number };
  perClass: Record<string, { auroc?: number | null }>;
  tta?: TtaMetrics;
}

const fixed = (n: number | null | undefined, digits = 4): string =>
  n === undefined || n === null || !Number.isFinite(n) ? '–' : n.toFixed(digits);

/** The mean of the classes' one-vs-rest AUROCs, over the classes that have one. */
const meanAuroc = (perClass: Record<string, { auroc?: number | null }>): number | undefined => {
  const values = Object.values(perClass)
    .map((m) => m.auroc)
    .filter((v): v is number => typeof v === 'number');
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
};

/**
 * `evaluate.tta`: the test metrics without and with test-time augmentation,
 * side by side, and the views averaged over. Nothing for a run without it.
 */
export function ttaSection(test: Compared): string {
  const tta = test.tta;
  if (!tta) return '';
  const row = (name: string, plain: string, augmented: string): string =>
    `<tr><th>${name}</th><td>${plain}</td><td>${augmented}</td></tr>`;
  const topK = Object.keys(test.topK ?? {})
    .filter((k) => k !== 'top1' && tta.topK?.[k] !== undefined)
    .map((k) => row(`${k.replace('top', 'top-')} accuracy`, fixed(test.topK[k]), fixed(tta.topK[k])));
  return `<h2>Test-time augmentation (test)</h2><p>Each test image's probabilities averaged over ${tta.views.length} views (${tta.views.map(escape).join(', ')}), from <code>evaluate.tta: [${tta.transforms.map(escape).join(', ')}]</code>; the loss is the cross-entropy of the averaged probabilities.</p>
<table class="tta"><tr><th></th><th>without</th><th>with test-time augmentation</th></tr>${[
    row('accuracy', fixed(test.accuracy), `<b id="tta-accuracy">${fixed(tta.accuracy)}</b>`),
    row('loss', fixed(test.loss), fixed(tta.loss)),
    ...topK,
    row('mean one-vs-rest AUROC', fixed(meanAuroc(test.perClass)), fixed(meanAuroc(tta.perClass))),
    row('expected calibration error', fixed(test.calibration?.ece), fixed(tta.calibration?.ece)),
  ].join('')}</table>`;
}
