import type { AnomalyTestMetrics } from '../engine/tasks/anomaly/evaluate-anomaly.js';
import type { AnomalyPlan } from '../plan/types.js';
import type { StoredScoredImage } from '../store/gallery-file.js';
import { escapeHtml as escape } from './report-charts.js';
import { page } from './report-html.js';

/** What an anomaly run's report shows: the test scores, how the bank was made, the run's facts, the pipeline. */
export interface AnomalyReportInput {
  title: string;
  run: Record<string, unknown>;
  anomaly: AnomalyPlan;
  test?: AnomalyTestMetrics;
  /** The misjudged test images with their patch scores drawn over them (examples.json). */
  scored?: StoredScoredImage[];
  pipelineYaml: string;
}

const fixed = (n: number | null | undefined, digits = 4): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);
const NORMAL = '#1f6feb';
const ANOMALOUS = '#cf222e';

/** The report of a `task: anomaly` run: AUROC and friends, score histograms by class with the threshold, the misjudged. */
export function renderAnomalyReport(input: AnomalyReportInput): string {
  const { test, anomaly } = input;
  const facts = Object.entries(input.run)
    .map(
      ([k, v]) =>
        `<tr><th>${escape(k)}</th><td>${escape(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`,
    )
    .join('');
  const bank = `<table class="facts"><tr><th>normal classes</th><td>${escape(anomaly.normal.join(', '))}</td></tr><tr><th>patch layers</th><td>${escape(anomaly.layers.join(', '))}</td></tr><tr><th>patches</th><td>${anomaly.grid.join('×')} per image, ${anomaly.channels} features each</td></tr><tr><th>memory bank</th><td>${anomaly.bank.patches} of ${anomaly.bank.fromPatches} patches (coreset ${anomaly.coreset})</td></tr><tr><th>threshold</th><td>the ${anomaly.quantile} quantile of the normal validation images' scores${test ? `: ${fixed(test.atThreshold.threshold)}` : ''}</td></tr></table>`;
  const body = test
    ? `<p class="headline">test AUROC <b id="test-auroc">${fixed(test.auroc)}</b>, average precision ${fixed(test.averagePrecision)}, F1 ${fixed(test.f1)} at the threshold (precision ${fixed(test.atThreshold.precision)}, recall ${fixed(test.atThreshold.recall)})</p>
<p class="note">${test.examples} test images: ${test.normalExamples} normal, ${test.anomalousExamples} anomalous. An image's score is the distance of its most unusual patch to the nearest normal patch in the memory bank.</p>
<h2>Scores by class (test)</h2>${histogram(test)}
<h2>Per class (test)</h2>${perClassTable(test)}
<h2>Most misjudged (test)</h2>${worstTable(test)}${heatMaps(input.scored ?? [])}`
    : '<p class="headline">no test split</p>';
  return page(
    input.title,
    `${body}
<h2>Memory bank</h2>${bank}
<h2>Run</h2><table class="facts">${facts}</table>
<h2>Pipeline as run</h2><pre>${escape(input.pipelineYaml)}</pre>`,
  );
}

function perClassTable(test: AnomalyTestMetrics): string {
  const rows = Object.entries(test.perClass)
    .map(
      ([name, c]) =>
        `<tr><td>${escape(name)}</td><td>${c.normal ? 'normal' : 'anomalous'}</td><td>${c.examples}</td><td>${fixed(c.meanScore, 3)}</td><td>${c.flagged}</td></tr>`,
    )
    .join('');
  return `<table><tr><th>class</th><th>kind</th><th>images</th><th>mean score</th><th>called anomalous</th></tr>${rows}</table>`;
}

/** Each misjudged image beside its heat map: where its patches are far from every normal patch (red: past the threshold). */
function heatMaps(scored: readonly StoredScoredImage[]): string {
  if (scored.length === 0) return '';
  const figures = scored
    .map(
      (s) =>
        `<figure class="wrong"><img class="thumbnail" alt="${escape(s.example)}" src="data:image/png;base64,${s.png}"><img class="heatmap" alt="patch scores of ${escape(s.example)}" src="data:image/png;base64,${s.heat}"><figcaption>${escape(s.actual)} (${s.anomalous ? 'anomalous' : 'normal'}), called ${s.anomalous ? 'normal' : 'anomalous'}: ${fixed(s.score, 3)}</figcaption></figure>`,
    )
    .join('');
  return `<p class="note">Each image and its patch scores over it: the colour reaches red at twice the threshold, yellow-green at the threshold.</p><div>${figures}</div>`;
}

function worstTable(test: AnomalyTestMetrics): string {
  if (test.worst.length === 0) return '<p>Every test image was judged rightly at the threshold.</p>';
  const rows = test.worst
    .map(
      (w) =>
        `<tr><td>${escape(w.example)}</td><td>${escape(w.actual)}</td><td>${w.anomalous ? 'anomalous, called normal' : 'normal, called anomalous'}</td><td>${fixed(w.score, 3)}</td></tr>`,
    )
    .join('');
  return `<table class="worst"><tr><th>example</th><th>class</th><th>misjudged as</th><th>score</th></tr>${rows}</table>`;
}

/**
 * The normal and the anomalous classes' scores as two overlaid histograms
 * on the bins evaluation counted, with the threshold as a vertical line:
 * the gap between the two is what AUROC measures.
 */
function histogram(test: AnomalyTestMetrics): string {
  const { edges, counts } = test.histograms;
  const bins = edges.length - 1;
  if (bins < 1) return '';
  const sum = (normal: boolean): number[] =>
    Array.from({ length: bins }, (_, b) =>
      Object.entries(counts)
        .filter(([name]) => test.perClass[name]?.normal === normal)
        .reduce((total, [, c]) => total + (c[b] ?? 0), 0),
    );
  const groups = [
    { name: 'normal', color: NORMAL, counts: sum(true) },
    { name: 'anomalous', color: ANOMALOUS, counts: sum(false) },
  ];
  const width = 520;
  const height = 200;
  const left = 40;
  const bottom = 24;
  const top = 20;
  const low = edges[0]!;
  const high = edges[bins]!;
  const span = high - low || 1;
  const peak = Math.max(1, ...groups.flatMap((g) => g.counts));
  const x = (v: number): number => left + ((v - low) / span) * (width - left - 10);
  const y = (n: number): number => top + (1 - n / peak) * (height - top - bottom);
  const bars = groups
    .map((g) =>
      g.counts
        .map((n, b) =>
          n === 0
            ? ''
            : `<rect x="${x(edges[b]!).toFixed(1)}" y="${y(n).toFixed(1)}" width="${Math.max(1, x(edges[b + 1]!) - x(edges[b]!) - 1).toFixed(1)}" height="${(y(0) - y(n)).toFixed(1)}" fill="${g.color}" fill-opacity="0.5"><title>${g.name}: ${n} in [${fixed(edges[b], 3)}, ${fixed(edges[b + 1], 3)}]</title></rect>`,
        )
        .join(''),
    )
    .join('');
  const threshold = test.atThreshold.threshold;
  const line =
    threshold >= low && threshold <= high
      ? `<line x1="${x(threshold).toFixed(1)}" x2="${x(threshold).toFixed(1)}" y1="${top}" y2="${y(0)}" stroke="#1b1f24" stroke-dasharray="4 3"/><text class="tick" x="${(x(threshold) + 4).toFixed(1)}" y="${top + 10}">threshold ${fixed(threshold, 3)}</text>`
      : '';
  const legend = groups
    .map(
      (g, i) =>
        `<rect x="${left + i * 110}" y="4" width="10" height="10" fill="${g.color}" fill-opacity="0.5"/><text class="legend-label" x="${left + 14 + i * 110}" y="13">${g.name}</text>`,
    )
    .join('');
  const axis = `<line x1="${left}" x2="${width - 10}" y1="${y(0)}" y2="${y(0)}" stroke="#8c959f"/><text class="tick" x="${left}" y="${height - 6}">${fixed(low, 2)}</text><text class="tick" x="${width - 10}" y="${height - 6}" text-anchor="end">${fixed(high, 2)}</text><text class="tick" x="4" y="${top + 4}">${peak}</text>`;
  return `<svg class="chart histogram" role="img" aria-label="anomaly scores by kind of class" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${legend}${bars}${line}${axis}</svg>`;
}
