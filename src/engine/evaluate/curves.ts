/**
 * One-vs-rest ROC and precision-recall curves, as points a report draws
 * with straight lines between them, and few enough to keep in summary.json:
 * at most `maxPoints` per curve, chosen so the drawing stays faithful (see
 * simplifyPolyline).
 */
import type { LabelledScores } from './anomaly-metrics.js';

/** A curve as its vertices, in drawing order: `x[i]`, `y[i]` is one point. */
export interface CurvePoints {
  x: number[];
  y: number[];
}

/** A class against the rest: its ROC curve (x false positive rate, y true positive rate) and its precision-recall curve (x recall, y precision). */
export interface ClassCurves {
  roc: CurvePoints;
  pr: CurvePoints;
}

/** Points per curve kept in summary.json: a 200-pixel chart has no use for more. */
export const CURVE_POINTS = 100;
/** Curves are kept for problems of up to this many classes; beyond it the per-class AUROC and AP remain. */
export const CURVE_CLASS_LIMIT = 50;
/** Coordinates are rounded to this many decimals (1/10000 of the axis is well below a pixel). */
const DECIMALS = 4;

/** Positive and negative counts at each distinct score, highest score first: the thresholds of both curves. */
function countsByThreshold({ scores, anomalous }: LabelledScores): { tp: number[]; fp: number[] } {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const tp: number[] = [];
  const fp: number[] = [];
  let positives = 0;
  let negatives = 0;
  for (let start = 0; start < order.length;) {
    let end = start;
    // Tied scores are one threshold: the curve moves through all of them at once (a diagonal step).
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[start]!]) end++;
    for (let k = start; k <= end; k++)
      if (anomalous[order[k]!]) positives++;
      else negatives++;
    tp.push(positives);
    fp.push(negatives);
    start = end + 1;
  }
  return { tp, fp };
}

/**
 * The ROC curve from (0, 0) to (1, 1) through each distinct threshold, as
 * `sklearn.metrics.roc_curve`; undefined when the scores lack either class.
 */
export function rocCurve(labelled: LabelledScores, maxPoints = CURVE_POINTS): CurvePoints | undefined {
  const { tp, fp } = countsByThreshold(labelled);
  const positives = tp.at(-1) ?? 0;
  const negatives = fp.at(-1) ?? 0;
  if (positives === 0 || negatives === 0) return undefined;
  const points: [number, number][] = [
    [0, 0],
    ...tp.map((t, i): [number, number] => [fp[i]! / negatives, t / positives]),
  ];
  return asCurve(simplifyPolyline(points, maxPoints));
}

/**
 * The precision-recall curve as the step function average precision sums
 * (scikit-learn's: precision held over each recall step, no interpolation),
 * from recall 0 at precision 1 to the first threshold with full recall;
 * its vertices are the steps' corners. Undefined without positives.
 */
export function precisionRecallCurve(labelled: LabelledScores, maxPoints = CURVE_POINTS): CurvePoints | undefined {
  const { tp, fp } = countsByThreshold(labelled);
  const positives = tp.at(-1) ?? 0;
  if (positives === 0) return undefined;
  const points: [number, number][] = [[0, 1]];
  let recall = 0;
  for (let i = 0; i < tp.length; i++) {
    const precision = tp[i]! / (tp[i]! + fp[i]!);
    // Up or down to this threshold's precision at the recall so far, then along to its recall.
    points.push([recall, precision]);
    recall = tp[i]! / positives;
    points.push([recall, precision]);
    if (tp[i] === positives) break;
  }
  return asCurve(simplifyPolyline(points, maxPoints));
}

/**
 * Every class's curves against the rest, by class name; null for a class
 * whose curves are undefined (no example of it, or only examples of it) or
 * whose scores are not numbers (a model that diverged). Undefined beyond
 * CURVE_CLASS_LIMIT classes.
 */
export function classCurves(
  actual: readonly number[],
  probabilities: readonly number[][],
  classNames: readonly string[],
): Record<string, ClassCurves | null> | undefined {
  if (classNames.length > CURVE_CLASS_LIMIT) return undefined;
  return Object.fromEntries(
    classNames.map((name, c) => {
      const labelled = { scores: probabilities.map((p) => p[c]!), anomalous: actual.map((a) => a === c) };
      if (!labelled.scores.every(Number.isFinite)) return [name, null];
      const roc = rocCurve(labelled);
      const pr = precisionRecallCurve(labelled);
      return [name, roc && pr ? { roc, pr } : null];
    }),
  );
}

/** Distance from p to the segment a–b. */
function distanceToSegment(p: [number, number], a: [number, number], b: [number, number]): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length2 = dx * dx + dy * dy;
  const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

/** Below this distance (in units of the axes) a point adds nothing to the line: it lies on it. */
const ON_THE_LINE = 1e-9;

/**
 * A polyline with at most `maxPoints` of its vertices, as close to it as
 * that many allow: Ramer–Douglas–Peucker, greedily — starting from the two
 * ends, the vertex farthest from the line drawn so far is added, until the
 * budget is spent or every vertex left lies on the line (so a curve with
 * few corners keeps exactly its corners, and collinear points go).
 */
export function simplifyPolyline(points: readonly [number, number][], maxPoints: number): [number, number][] {
  if (points.length <= 2) return [...points];
  interface Span {
    from: number;
    to: number;
    farthest: number;
    distance: number;
  }
  const span = (from: number, to: number): Span => {
    let farthest = -1;
    let distance = 0;
    for (let i = from + 1; i < to; i++) {
      const d = distanceToSegment(points[i]!, points[from]!, points[to]!);
      if (d > distance) [farthest, distance] = [i, d];
    }
    return { from, to, farthest, distance };
  };
  const kept = new Set([0, points.length - 1]);
  const spans = [span(0, points.length - 1)];
  while (kept.size < Math.max(2, maxPoints)) {
    let widest = 0;
    for (let s = 1; s < spans.length; s++) if (spans[s]!.distance > spans[widest]!.distance) widest = s;
    const { from, to, farthest, distance } = spans[widest]!;
    if (distance <= ON_THE_LINE) break;
    kept.add(farthest);
    spans.splice(widest, 1, span(from, farthest), span(farthest, to));
  }
  return [...kept].sort((a, b) => a - b).map((i) => points[i]!);
}

const round = (v: number): number => Math.round(v * 10 ** DECIMALS) / 10 ** DECIMALS;

function asCurve(points: readonly [number, number][]): CurvePoints {
  return { x: points.map(([x]) => round(x)), y: points.map(([, y]) => round(y)) };
}
