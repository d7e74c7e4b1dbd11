import type {
  AnomalyEvaluation,
  ClassificationEvaluation,
  Comparison,
  Evaluation,
  Explanation,
  RunOverview,
  SegmentationEvaluation,
  ZooListing,
} from '../api/index.js';
import { formatPrediction } from './tasks/registry.js';
import { terminalText } from './terminal-text.js';
import { alignColumns, fitColumns, TEXT_WIDTH, wrapParagraph } from './text-table.js';

/** `tlpipe runs`: one line per run. */
export function formatRunTable(runs: RunOverview[]): string {
  if (runs.length === 0) return 'no runs yet';
  const header = ['run', 'status', 'started', 'seconds', 'backend', 'best', 'test acc', 'git'];
  const rows = runs.map((r) => [
    `${r.pipeline}/${r.id}`,
    r.status,
    r.startedAt.replace('T', ' ').slice(0, 16),
    r.seconds === null ? '–' : r.seconds.toFixed(1),
    r.backend ?? '–',
    r.best ? `${r.best.metric.replace('accuracy', 'acc')} ${r.best.value.toFixed(4)} @${r.best.epoch}` : '–',
    r.testAccuracy === null ? '–' : r.testAccuracy.toFixed(4),
    r.git ? `${r.git.commit.slice(0, 8)}${r.git.dirty ? '*' : ''}` : '–',
  ]);
  return fitColumns([header, ...rows]).join('\n');
}

/** `tlpipe compare`: text columns, one per run. */
export function formatComparison(c: Comparison): string {
  // Whole subtrees are cut short in the table; --json has them in full.
  const show = (v: unknown): string => {
    const text = v === undefined ? '–' : typeof v === 'number' ? String(Number(v.toPrecision(6))) : JSON.stringify(v);
    return text.length > 60 ? `${text.slice(0, 59)}…` : text;
  };
  const num = (v: number | null, digits = 4): string =>
    v === null ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(digits);
  const header = ['', ...c.runs.map((r) => `${r.pipeline}/${r.id}`)];
  const rows: string[][] = [
    ['status', ...c.runs.map((r) => r.status)],
    ['seconds', ...c.runs.map((r) => num(r.seconds, 1))],
    ['test accuracy', ...c.runs.map((r) => num(r.testAccuracy))],
    ['test loss', ...c.runs.map((r) => num(r.testLoss))],
    ...(c.runs.some((r) => r.testMeanIoU !== undefined)
      ? [['test mean IoU', ...c.runs.map((r) => num(r.testMeanIoU ?? null))]]
      : []),
    ...(c.runs.some((r) => r.testAuroc !== undefined)
      ? [['test AUROC', ...c.runs.map((r) => num(r.testAuroc ?? null))]]
      : []),
  ];
  const stageRows = c.stages.map((s) => [`${s.stage} ${s.metric}`, ...s.values.map((v) => num(v))]);
  const configRows = c.config.map((d) => [d.path, ...d.values.map(show)]);
  const table = alignColumns([header, ...rows, ...stageRows, ...configRows]);
  if (table.some((l) => l.length > TEXT_WIDTH))
    return verticalComparison(c, header.slice(1), rows, stageRows, configRows, configTitleOf(c));
  const [headerLine, ...lines] = table;
  const top = lines.slice(0, rows.length);
  const stageLines = lines.slice(rows.length, rows.length + stageRows.length);
  const configLines = lines.slice(rows.length + stageRows.length);
  const configTitle = configTitleOf(c);
  return [
    headerLine!,
    ...top,
    '',
    'per stage (its last epoch):',
    ...stageLines,
    '',
    configTitle,
    ...configLines,
    ...c.notes.map((n) => `note: ${n}`),
  ].join('\n');
}

const configTitleOf = (c: Comparison): string =>
  c.config.length > 0
    ? `config differences (${c.config.length}):`
    : c.complete
      ? 'config: identical'
      : 'config: no differences among the runs whose configuration could be read';

/** Too many runs, or values too long, for columns within TEXT_WIDTH: each row as a heading with one line per run. */
function verticalComparison(
  c: Comparison,
  names: string[],
  rows: string[][],
  stageRows: string[][],
  configRows: string[][],
  configTitle: string,
): string {
  const block = ([label, ...values]: string[]): string[] => [
    `${label}:`,
    ...values.flatMap((v, i) => wrapParagraph(`  ${names[i]}  ${v}`, TEXT_WIDTH, 4)),
  ];
  return [
    ...rows.flatMap(block),
    '',
    'per stage (its last epoch):',
    ...stageRows.flatMap(block),
    '',
    configTitle,
    ...configRows.flatMap(block),
    ...c.notes.flatMap((n) => wrapParagraph(`note: ${n}`)),
  ].join('\n');
}

/** `tlpipe explain`: an image, its most likely classes, and each map's overlay PNG. */
export function formatExplanation(e: Explanation, shownPath: (file: string) => string): string {
  const maps = e.maps.map(
    (m) =>
      `  ${m.why === 'predicted' ? 'predicted' : 'asked'} ${terminalText(m.label)}: ${m.overlay ? terminalText(shownPath(m.overlay)) : '–'}`,
  );
  return [formatPrediction(e), ...maps].join('\n');
}

/** `tlpipe evaluate`: what was evaluated, then the metrics. */
export function formatEvaluated(run: string, evaluation: Evaluation): string {
  return `evaluated ${terminalText(run)} on ${terminalText(evaluation.on)}\n${formatEvaluation(evaluation)}`;
}

/** The metrics as a person reads them, as the model's task has them. */
export function formatEvaluation(evaluation: Evaluation): string {
  switch (evaluation.task) {
    case 'classification':
      return formatClassification(evaluation);
    case 'segmentation':
      return formatSegmentation(evaluation);
    case 'anomaly':
      return formatAnomaly(evaluation);
  }
}

/** A classifier's: headline numbers, a per-class table, the confusion matrix, the worst examples. */
function formatClassification({ metrics, classNames }: ClassificationEvaluation): string {
  const pct = (v: number): string => v.toFixed(4);
  const topK = Object.entries(metrics.topK)
    .filter(([k]) => k !== 'top1')
    .map(([k, v]) => `${k.replace('top', 'top-')} ${pct(v)}`)
    .join('  ');
  // Class names come from the model's labels.json: shown escaped, and measured as shown.
  const shown = classNames.map(terminalText);
  const width = Math.max(5, ...shown.map((n) => n.length));
  const perClass = classNames.map((name, i) => {
    const m = metrics.perClass[name]!;
    return `  ${shown[i]!.padEnd(width)}  ${pct(m.precision)}     ${pct(m.recall)}  ${pct(m.f1)}  ${String(m.support).padStart(7)}`;
  });
  const cell = Math.max(4, ...metrics.confusionMatrix.flat().map((v) => String(v).length));
  const matrix = metrics.confusionMatrix.map(
    (row, i) => `  ${shown[i]!.padEnd(width)}  ${row.map((v) => String(v).padStart(cell)).join(' ')}`,
  );
  return [
    `accuracy ${pct(metrics.accuracy)}  loss ${pct(metrics.loss)}  ${topK}  (${metrics.examples} examples)`,
    '',
    `  ${'class'.padEnd(width)}  precision  recall  f1      support`,
    ...perClass,
    '',
    'confusion matrix (rows: actual, columns: predicted in the same order)',
    ...matrix,
    '',
    'most wrong (lowest probability of the true class):',
    ...metrics.worst
      .slice(0, 10)
      .map(
        (w) =>
          `  ${terminalText(w.example)}: ${terminalText(w.actual)} → ${terminalText(w.predicted)} (p(actual) ${w.probabilityOfActual.toFixed(3)})`,
      ),
  ].join('\n');
}

/** A segmentation model's: mean IoU and pixel accuracy, IoU per class with its true pixels, the images of lowest mean IoU. */
function formatSegmentation({ metrics, classNames }: SegmentationEvaluation): string {
  const shown = classNames.map(terminalText);
  const width = Math.max(5, ...shown.map((n) => n.length));
  const perClass = classNames.map((name, i) => {
    const { iou, pixels } = metrics.perClass[name]!;
    // No IoU: the class is in neither the truth nor the prediction, and is left out of the mean.
    return `  ${shown[i]!.padEnd(width)}  ${iou === null ? '–'.padEnd(6) : iou.toFixed(4)}  ${String(pixels).padStart(11)}`;
  });
  return [
    `mean IoU ${metrics.meanIoU.toFixed(4)}  pixel accuracy ${metrics.pixelAccuracy.toFixed(4)}  loss ${metrics.loss.toFixed(4)}  (${metrics.examples} images)`,
    '',
    `  ${'class'.padEnd(width)}  IoU     true pixels`,
    ...perClass,
    '',
    'lowest mean IoU:',
    ...metrics.worst.map((w) => `  ${terminalText(w.example)}: ${w.meanIoU.toFixed(4)}`),
  ].join('\n');
}

/** An anomaly model's: AUROC, average precision, F1 and accuracy at its threshold, each class's scores, the most wrongly judged. */
function formatAnomaly({ metrics, classNames, unseen }: AnomalyEvaluation): string {
  const num = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(4));
  const shown = classNames.map(terminalText);
  const width = Math.max(5, ...shown.map((n) => n.length));
  const perClass = classNames.map((name, i) => {
    const c = metrics.perClass[name]!;
    const kind = c.normal ? 'normal' : unseen.includes(name) ? 'unseen' : 'anomalous';
    return `  ${shown[i]!.padEnd(width)}  ${kind.padEnd(9)}  ${String(c.examples).padStart(6)}  ${c.meanScore.toFixed(4).padStart(10)}  ${String(c.flagged).padStart(7)}`;
  });
  const { atThreshold: t } = metrics;
  return [
    `AUROC ${num(metrics.auroc)}  average precision ${num(metrics.averagePrecision)}  F1 ${metrics.f1.toFixed(4)}  accuracy ${metrics.accuracy.toFixed(4)}  (${metrics.examples} images: ${metrics.normalExamples} normal, ${metrics.anomalousExamples} anomalous)`,
    `at the model's threshold ${t.threshold.toPrecision(4)}: precision ${t.precision.toFixed(4)}, recall ${t.recall.toFixed(4)}`,
    '',
    `  ${'class'.padEnd(width)}  ${'counts as'.padEnd(9)}  images  mean score  flagged`,
    ...perClass,
    ...(unseen.length > 0
      ? ['', `not among the run's classes, so scored as anomalous: ${unseen.map(terminalText).join(', ')}`]
      : []),
    '',
    'most wrongly judged (furthest on the wrong side of the threshold):',
    ...metrics.worst
      .slice(0, 10)
      .map(
        (w) =>
          `  ${terminalText(w.example)}: ${terminalText(w.actual)} (${w.anomalous ? 'anomalous' : 'normal'}), score ${w.score.toFixed(4)}`,
      ),
  ].join('\n');
}

/** `tlpipe models`: the zoo as a table, then each entry's description. */
export function formatModels(zoo: ZooListing[]): string {
  const rows = zoo.map((m) => [
    m.name,
    m.url ? (m.available ? 'cached' : 'download') : m.available ? 'offline' : `unavailable: ${m.problem}`,
    `${m.nativeInputSize.join('×')}, ≥ ${m.minInputSize}`,
    m.featureLayer,
    m.layers === undefined ? '–' : String(m.layers),
    m.params === undefined ? '–' : `${(m.params / 1e6).toFixed(1)} M`,
    m.normalize,
    m.loadSeconds === undefined ? '–' : `${m.loadSeconds.toFixed(2)}s`,
  ]);
  const header = ['model', 'source', 'input', 'cut', 'layers', 'weights', 'normalize', 'load'];
  return [
    ...fitColumns([header, ...rows]),
    ...zoo.flatMap((m) => [
      '',
      ...wrapParagraph(`${m.name}: ${m.description}${m.url && !m.available ? ` (${m.url})` : ''}`),
    ]),
    '',
    ...wrapParagraph(
      "Any tfjs LayersModel works too: base.model: path/to/model.json, or run:<pipeline> for an earlier run's model.",
    ),
  ].join('\n');
}
