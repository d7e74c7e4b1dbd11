/**
 * The test split's one-vs-rest ROC and precision-recall curves as inline
 * SVG, one chart of each with a line per class and the class's AUC (or
 * average precision) in the legend. A two-class problem draws its positive
 * class (the second, in labels.json order) alone: the other's curves say
 * the same thing mirrored.
 */
import type { ClassCurves, CurvePoints } from '../engine/evaluate/curves.js';
import { escapeHtml as escape } from './report-charts.js';
import { unitSquareTicks } from './reliability-diagram.js';

/** What the charts read of the test metrics. */
export interface CurveInput {
  perClass: Record<string, { auroc?: number | null; averagePrecision?: number | null; support: number }>;
  curves?: Record<string, ClassCurves | null>;
  /** A tuned threshold's positive class (`evaluate.threshold.positive`): the one class drawn for two. */
  decision?: { threshold?: { positive: string } };
}

/** Ten colours told apart by most eyes (matplotlib's tab10); beyond ten classes, dashes tell the lines apart. */
const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];
const DASHES = ['', '6 3', '2 2', '8 3 2 3'];
const PLOT = { left: 44, top: 16, side: 220 };
const LEGEND = { left: PLOT.left + PLOT.side + 16, line: 15, width: 200 };

interface Drawn {
  name: string;
  points: CurvePoints;
  score: number | null | undefined;
  style: number;
}

const fixed = (n: number | null | undefined): string =>
  n === undefined || n === null || !Number.isFinite(n) ? '–' : n.toFixed(3);

/** The classes whose curves are drawn: the positive class of two, else every class that has curves. */
function drawnClasses(test: CurveInput, classNames: readonly string[]): string[] {
  const curves = test.curves ?? {};
  const positive = test.decision?.threshold?.positive;
  const names =
    classNames.length === 2 ? [positive && classNames.includes(positive) ? positive : classNames[1]!] : classNames;
  return names.filter((name) => curves[name]);
}

/** One chart: the unit square, its ticks and labels, a line per class, a legend beside it. */
function chart(kind: 'roc' | 'pr', lines: readonly Drawn[], axes: { x: string; y: string; score: string }): string {
  const x = (v: number): number => PLOT.left + v * PLOT.side;
  const y = (v: number): number => PLOT.top + (1 - v) * PLOT.side;
  const stroke = (style: number): string =>
    `stroke="${PALETTE[style % PALETTE.length]}"${DASHES[Math.floor(style / PALETTE.length) % DASHES.length] ? ` stroke-dasharray="${DASHES[Math.floor(style / PALETTE.length) % DASHES.length]}"` : ''}`;
  const polylines = lines
    .map(
      (l) =>
        `<polyline class="curve" fill="none" stroke-width="1.6" ${stroke(l.style)} points="${l.points.x.map((v, i) => `${x(v).toFixed(1)},${y(l.points.y[i]!).toFixed(1)}`).join(' ')}"><title>${escape(l.name)}: ${axes.score} ${fixed(l.score)}</title></polyline>`,
    )
    .join('');
  const legend = lines
    .map((l, i) => {
      const top = PLOT.top + 8 + i * LEGEND.line;
      return `<line x1="${LEGEND.left}" y1="${top}" x2="${LEGEND.left + 18}" y2="${top}" stroke-width="2" ${stroke(l.style)}/><text x="${LEGEND.left + 24}" y="${top + 4}">${escape(l.name)} (${axes.score} ${fixed(l.score)})</text>`;
    })
    .join('');
  const ticks = unitSquareTicks(x, y, PLOT.left);
  // A ROC chart's diagonal is a model that ranks at random.
  const chance =
    kind === 'roc'
      ? `<line class="chance" x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#8c959f" stroke-dasharray="4 3"/>`
      : '';
  const width = LEGEND.left + LEGEND.width;
  const height = Math.max(PLOT.side + 50, PLOT.top + 16 + lines.length * LEGEND.line);
  const title =
    kind === 'roc' ? 'ROC curves, one class against the rest' : 'precision-recall curves, one class against the rest';
  return `<svg class="${kind}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${title}" font-size="11" font-family="system-ui,sans-serif">
<rect x="${x(0)}" y="${y(1)}" width="${PLOT.side}" height="${PLOT.side}" fill="none" stroke="#d0d7de"/>${chance}${polylines}${ticks}${legend}
<text x="${x(0.5)}" y="${y(0) + 30}" text-anchor="middle">${axes.x}</text>
<text transform="translate(12 ${y(0.5)}) rotate(-90)" text-anchor="middle">${axes.y}</text>
</svg>`;
}

/** The section of the report with both charts, or nothing when the run has no curves (written before them, or too many classes). */
export function curvesSection(test: CurveInput, classNames: readonly string[]): string {
  const names = drawnClasses(test, classNames);
  if (names.length === 0) return '';
  const lines = (pick: (c: ClassCurves) => CurvePoints, score: (name: string) => number | null | undefined): Drawn[] =>
    names.map((name) => ({
      name,
      points: pick(test.curves![name]!),
      score: score(name),
      style: classNames.indexOf(name),
    }));
  const which =
    classNames.length === 2
      ? `the positive class, ${escape(names[0]!)}, against ${escape(classNames.find((n) => n !== names[0]) ?? '')}`
      : 'each class against the rest';
  return `<h2>ROC and precision-recall (test)</h2><p>Ranking the test examples by ${which} by its predicted probability: the area under the ROC curve (AUC) and the average precision (AP, the area under the stepped precision-recall curve). The dashed diagonal is a model that ranks at random.</p>
<div class="curves">${chart(
    'roc',
    lines(
      (c) => c.roc,
      (name) => test.perClass[name]?.auroc,
    ),
    { x: 'false positive rate', y: 'true positive rate', score: 'AUC' },
  )}${chart(
    'pr',
    lines(
      (c) => c.pr,
      (name) => test.perClass[name]?.averagePrecision,
    ),
    { x: 'recall', y: 'precision', score: 'AP' },
  )}</div>`;
}
