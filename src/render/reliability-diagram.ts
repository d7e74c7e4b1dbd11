import type { Calibration } from '../engine/evaluate/metrics.js';

const SIZE = 260;
const PLOT = { left: 44, top: 16, side: 200 };

/**
 * A reliability diagram as inline SVG: for each bin of the top class's
 * probability, a bar as high as the accuracy of its examples, beside the
 * diagonal a perfectly calibrated model would follow; the gap between bar
 * and diagonal, weighted by the bin's examples, sums to the ECE. A bin
 * without examples has no bar.
 */
export function reliabilityDiagram(calibration: Calibration): string {
  const x = (v: number): number => PLOT.left + v * PLOT.side;
  const y = (v: number): number => PLOT.top + (1 - v) * PLOT.side;
  const bars = calibration.bins
    .filter((b) => b.count > 0 && b.accuracy !== null)
    .map(
      (b) =>
        `<rect x="${x(b.lower) + 1}" y="${y(b.accuracy!)}" width="${x(b.upper) - x(b.lower) - 2}" height="${y(0) - y(b.accuracy!)}" fill="#1f6feb" fill-opacity="0.75"><title>${(b.lower * 100).toFixed(0)}–${(b.upper * 100).toFixed(0)}%: ${b.count} examples, mean probability ${b.confidence!.toFixed(3)}, accuracy ${b.accuracy!.toFixed(3)}</title></rect>`,
    )
    .join('');
  const ticks = unitSquareTicks(x, y, PLOT.left);
  return `<svg class="reliability" width="${SIZE}" height="${SIZE + 16}" viewBox="0 0 ${SIZE} ${SIZE + 16}" role="img" aria-label="reliability diagram: accuracy against the top class's probability" font-size="11" font-family="system-ui,sans-serif">
<rect x="${x(0)}" y="${y(1)}" width="${PLOT.side}" height="${PLOT.side}" fill="none" stroke="#d0d7de"/>${bars}
<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#57606a" stroke-dasharray="4 3"/>${ticks}
<text x="${x(0.5)}" y="${y(0) + 30}" text-anchor="middle">probability of the predicted class</text>
<text transform="translate(12 ${y(0.5)}) rotate(-90)" text-anchor="middle">accuracy</text>
</svg>`;
}

/** The 0–1 tick labels of both axes of a unit-square plot (reliability, ROC, precision-recall); `left` is the plot's left edge. */
export function unitSquareTicks(x: (v: number) => number, y: (v: number) => number, left: number): string {
  return [0, 0.25, 0.5, 0.75, 1]
    .map(
      (t) =>
        `<text x="${x(t)}" y="${y(0) + 14}" text-anchor="middle">${t}</text><text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    )
    .join('');
}
