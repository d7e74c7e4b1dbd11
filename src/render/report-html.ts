/**
 * report.html: one self-contained page (no scripts, no network) with the
 * training curves as inline SVG, the hardest test images and where the
 * model looked in them (inline PNGs), the confusion matrix as a heatmap,
 * the per-class metrics, the hyperparameters as resolved, the run's facts
 * and the pipeline as run.
 */
import type { RunSummary } from '../store/summary-file.js';
import type { Calibration, TtaMetrics } from '../engine/evaluate/metrics.js';
import type { ClassCurves } from '../engine/evaluate/curves.js';
import { curvesSection } from './curve-charts.js';
import { ttaSection } from './tta-section.js';
import { reliabilityDiagram } from './reliability-diagram.js';
import { decisionSection } from './decision-section.js';
import type { DecisionMetrics } from '../engine/evaluate/decision-metrics.js';
import type { EpochMetrics } from '../engine/events.js';
import type { MonitorName } from '../format/types.js';
import type { StoredGallery, StoredGalleryImage } from '../store/gallery-file.js';
import { escapeHtml as escape, lineChart, type EpochMark, type Series } from './report-charts.js';

type MetricRow = Omit<EpochMetrics, 'seconds' | 'stageEpoch'> & { seconds?: number; stageEpoch?: number };

/** One stage's hyperparameters as the plan resolved them, and how it went. */
export interface StageView {
  name: string;
  firstEpoch: number;
  lastEpoch: number;
  batchSize: number;
  optimizer: string;
  /** Parameter groups with their peak rates, the head's first. */
  groups: { name: string; learningRate: number }[];
  schedule: string;
  learns: string;
  batchNorm: string;
  earlyStopping?: string;
  /** adapt.method coral or dann: how the stage aligns to the target images. */
  alignment?: string;
  labelSmoothing: number;
  classWeights: boolean;
  trainableParams: number;
  totalParams: number;
  /** From summary.json, once the run completed. */
  epochsRun?: number;
  stoppedEarly?: boolean;
  restoredEpoch?: number;
}

export interface ReportInput {
  title: string;
  run: Record<string, unknown>;
  metrics: MetricRow[];
  stages: StageView[];
  /** The metric the run's best checkpoint is chosen by. */
  monitor?: { metric: MonitorName; mode: 'min' | 'max' };
  test?: {
    loss: number;
    accuracy: number;
    perClass: Record<
      string,
      {
        precision: number;
        recall: number;
        f1: number;
        support: number;
        auroc?: number | null;
        averagePrecision?: number | null;
      }
    >;
    calibration?: Calibration;
    curves?: Record<string, ClassCurves | null>;
    tta?: TtaMetrics;
    topK?: Record<string, number>;
    /** `evaluate: calibrate / threshold / abstain`: the fitted rule's effect on the test split. */
    decision?: DecisionMetrics;
    confusionMatrix: number[][];
    worst?: {
      example: string;
      actual: string;
      predicted: string;
      probabilityOfActual: number;
      probabilityOfPredicted: number;
    }[];
  };
  gallery?: StoredGallery;
  /** Sections after the test split's (the data audit, when the pipeline asks for it). */
  extraSections?: string;
  /** A task other than classification says what it measured on the test split (its headline and sections). */
  taskSection?: { headline: string; body: string };
  classNames: string[];
  pipelineYaml: string;
  /** `dataset.source`: what it added to the training split (summary.json's source block). */
  source?: RunSummary['source'];
  /** `baseline: scratch`: the same architecture trained from random initialisation, drawn on the same charts. */
  baseline?: { metrics: MetricRow[]; test?: { accuracy: number; loss: number } };
}

const fixed = (n: number | null | undefined, digits = 4): string =>
  n === undefined || n === null || !Number.isFinite(n) ? '–' : n.toFixed(digits);

const TRAIN = '#1f6feb';
const VALIDATION = '#d9480f';
/** The learning-rate groups' colours, apart from the train/validation pair of the other charts. */
const GROUP_COLOURS = ['#2da44e', '#8250df', '#bf3989', '#9a6700'];
const BEST = '#0a7ea4';
const RESTORED = '#57606a';

/** The epoch whose value of `monitor` is best, among the epochs that have it. */
export function bestEpoch(
  rows: readonly MetricRow[],
  monitor: { metric: MonitorName; mode: 'min' | 'max' },
): number | undefined {
  let best: { epoch: number; value: number } | undefined;
  for (const row of rows) {
    const value = row[monitor.metric];
    if (value === undefined || !Number.isFinite(value)) continue;
    if (!best || (monitor.mode === 'max' ? value > best.value : value < best.value)) best = { epoch: row.epoch, value };
  }
  return best?.epoch;
}

/**
 * Each row's learning rate per parameter group: the groups it lists, or,
 * for a stage with a single group, that group. A group that does not learn
 * in a stage (the base while it is frozen) has no value there.
 */
function ratesByGroup(rows: readonly MetricRow[], stages: readonly StageView[]): Map<string, [number, number][]> {
  const byGroup = new Map<string, [number, number][]>();
  for (const row of rows) {
    const only = stages.find((s) => s.name === row.stage)?.groups;
    const rates = row.learningRates ?? { [only?.length === 1 ? only[0]!.name : 'head']: row.lr };
    for (const [group, rate] of Object.entries(rates)) {
      if (!byGroup.has(group)) byGroup.set(group, []);
      byGroup.get(group)!.push([row.epoch, rate]);
    }
  }
  return byGroup;
}

/**
 * adapt.method coral or dann: the alignment each epoch measured (CORAL's
 * loss, or the domain classifier's loss and accuracy, which falls towards
 * 0.5 as the features become indistinguishable). Nothing for other runs.
 */
function alignmentChart(rows: readonly MetricRow[], boundaries: { epoch: number; stage: string }[]): string {
  const series = (name: string, color: string, pick: (r: MetricRow) => number | undefined, dashed = false): Series => ({
    name,
    color,
    points: rows.flatMap((r) => {
      const v = pick(r);
      return v === undefined || v === null ? [] : [[r.epoch, v] as [number, number]];
    }),
    ...(dashed ? { dashed } : {}),
  });
  return lineChart(
    'domain alignment (training vs target batches)',
    [
      series('CORAL loss', TRAIN, (r) => r.coral_loss),
      series('domain classifier loss', TRAIN, (r) => r.domain_loss),
      series('domain classifier accuracy', VALIDATION, (r) => r.domain_accuracy, true),
    ],
    { boundaries },
  );
}

export function renderReport(input: ReportInput): string {
  const points = (rows: readonly MetricRow[], pick: (r: MetricRow) => number | undefined): [number, number][] =>
    rows.flatMap((r) => {
      const v = pick(r);
      return v === undefined ? [] : [[r.epoch, v] as [number, number]];
    });
  const boundaries = input.metrics
    .filter((r, i) => i > 0 && r.stage !== input.metrics[i - 1]!.stage)
    .map((r) => ({ epoch: r.epoch - 0.5, stage: r.stage }));
  const best = input.monitor ? bestEpoch(input.metrics, input.monitor) : undefined;
  const marks: EpochMark[] = [
    ...(best !== undefined ? [{ epoch: best, label: `best ${input.monitor!.metric}`, color: BEST }] : []),
    ...input.stages
      .filter((s) => s.restoredEpoch !== undefined)
      .map((s) => ({ epoch: s.restoredEpoch!, label: `${s.name}: weights restored`, color: RESTORED })),
  ];
  const baselineSeries = (
    pick: (r: MetricRow) => number | undefined,
    pickVal: (r: MetricRow) => number | undefined,
  ): Series[] =>
    input.baseline
      ? [
          { name: 'scratch train', color: '#8c959f', points: points(input.baseline.metrics, pick) },
          { name: 'scratch val', color: '#bf3989', points: points(input.baseline.metrics, pickVal), dashed: true },
        ]
      : [];
  const chart = (
    title: string,
    pick: (r: MetricRow) => number | undefined,
    pickVal: (r: MetricRow) => number | undefined,
  ): string =>
    lineChart(
      title,
      [
        { name: 'train', color: TRAIN, points: points(input.metrics, pick) },
        { name: 'validation', color: VALIDATION, points: points(input.metrics, pickVal), dashed: true },
        ...baselineSeries(pick, pickVal),
      ],
      { boundaries, marks },
    );
  const groups = [...ratesByGroup(input.metrics, input.stages)];
  // The first group (the head) is drawn wide and pale under the others: equal rates stay visible as two lines.
  const learningRate = lineChart(
    "learning rate (at each epoch's first step)",
    groups.map(([name, rates], i) => ({
      name,
      color: GROUP_COLOURS[i % GROUP_COLOURS.length]!,
      points: rates,
      ...(i === 0 && groups.length > 1 ? { wide: true } : {}),
      ...(i > 0 ? { dashed: true } : {}),
    })),
    { boundaries, log: logScale(groups.flatMap(([, rates]) => rates.map(([, r]) => r))) },
  );
  const test = input.test;
  // A run written before the rankings (one-vs-rest AUROC, average precision) has no columns for them.
  const ranked = test ? Object.values(test.perClass).some((m) => m.auroc !== undefined) : false;
  const perClass = test
    ? `<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th>${ranked ? '<th title="one-vs-rest area under the ROC curve">AUROC</th><th title="one-vs-rest average precision">AP</th>' : ''}<th>support</th></tr>${Object.entries(
        test.perClass,
      )
        .map(
          ([name, m]) =>
            `<tr><td>${escape(name)}</td><td>${fixed(m.precision, 3)}</td><td>${fixed(m.recall, 3)}</td><td>${fixed(m.f1, 3)}</td>${ranked ? `<td>${fixed(m.auroc, 3)}</td><td>${fixed(m.averagePrecision, 3)}</td>` : ''}<td>${m.support}</td></tr>`,
        )
        .join('')}</table>${calibrationSection(test.calibration)}${decisionSection(test.decision)}`
    : '<p>No test split.</p>';
  const meta = Object.entries(input.run)
    .map(
      ([k, v]) =>
        `<tr><th>${escape(k)}</th><td>${escape(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`,
    )
    .join('');
  const baselineLine = input.baseline?.test
    ? `<p class="headline">scratch baseline (same architecture and stages, random initialisation): test accuracy <b id="baseline-accuracy">${fixed(input.baseline.test.accuracy)}</b>, test loss ${fixed(input.baseline.test.loss)}</p>`
    : '';
  return page(
    input.title,
    `<p class="headline">${input.taskSection ? input.taskSection.headline : test ? `test accuracy <b id="test-accuracy">${fixed(test.accuracy)}</b>, test loss ${fixed(test.loss)}` : 'no test split'}</p>
${baselineLine}
${sourceSection(input)}
<h2>Training curves</h2>
<div class="charts">${chart(
      'loss',
      (r) => r.loss,
      (r) => r.val_loss,
    )}${chart(
      'accuracy',
      (r) => r.accuracy,
      (r) => r.val_accuracy,
    )}${
      // task: segmentation measures the validation split's mean IoU each epoch (training batches have no confusion kept).
      input.metrics.some((r) => r.val_meanIoU !== undefined)
        ? chart(
            'mean IoU (validation)',
            () => undefined,
            (r) => r.val_meanIoU ?? undefined,
          )
        : ''
    }${alignmentChart(input.metrics, boundaries)}${learningRate}</div>
<h2>Hyperparameters as resolved</h2>${stageTable(input.stages)}
${input.taskSection ? input.taskSection.body : classificationSections(input, perClass)}
${input.extraSections ?? ''}
<h2>Run</h2><table class="facts">${meta}</table>
<h2>Pipeline as run</h2><pre>${escape(input.pipelineYaml)}</pre>`,
  );
}

/**
 * `dataset.source`: how many of its examples joined the training split (of
 * which classes, which were left out), how they weighed, and per epoch how
 * much of the batches — by examples and by loss weight — came from it.
 */
function sourceSection(input: Pick<ReportInput, 'source' | 'metrics'>): string {
  const { source } = input;
  if (!source) return '';
  const perClass = Object.entries(source.perClass)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${escape(name)} ${n}`)
    .join(', ');
  const renamed = source.mapped.filter((m) => m.from !== m.to);
  const rows = input.metrics
    .filter((r) => r.sourceShare !== undefined)
    .map(
      (r) =>
        `<tr><td>${r.epoch}</td><td>${fixed((r.sourceShare ?? 0) * 100, 1)}%</td><td>${fixed((r.sourceWeightShare ?? 0) * 100, 1)}%</td></tr>`,
    )
    .join('');
  return `<h2>Training data</h2><p id="source-data">The training split held <b>${source.examples}</b> source ${source.examples === 1 ? 'example' : 'examples'} (${perClass}) beside the pipeline's own, each weighing ${source.weight}${source.decay === 1 ? '' : ` × ${source.decay}<sup>epoch − 1</sup>`}; none is in the validation or test split.${renamed.length > 0 ? ` Mapped: ${renamed.map((m) => `${escape(m.from)} → ${escape(m.to)}`).join(', ')}.` : ''}${source.dropped.length > 0 ? ` Left out (no matching class): ${source.dropped.map(escape).join(', ')}.` : ''}</p>${rows ? `<table class="source-share"><tr><th>epoch</th><th>examples from the source</th><th>loss weight from the source</th></tr>${rows}</table>` : ''}`;
}

/** The calibration of the test split's answers: the ECE, and the reliability diagram it comes from. */
function calibrationSection(calibration: Calibration | undefined): string {
  if (!calibration) return '';
  const examples = calibration.bins.reduce((sum, b) => sum + b.count, 0);
  return `<h2>Calibration (test)</h2><p>Expected calibration error <b>${fixed(calibration.ece, 4)}</b> over ${examples} examples, in ${calibration.bins.length} bins of the predicted class's probability: the gap between each bar and the diagonal, weighted by its examples.</p>${reliabilityDiagram(calibration)}`;
}

/** Classification's test sections: the worst, a few per class, the confusion matrix, per-class metrics. */
function classificationSections(input: ReportInput, perClass: string): string {
  const test = input.test;
  return `${worstSection(input)}
${perClassGallery(input.gallery)}
${test ? `<h2>Confusion matrix (test)</h2>${confusionHeatmap(test.confusionMatrix, input.classNames)}` : ''}
<h2>Per-class metrics (test)</h2>${perClass}
${test ? `${curvesSection(test, input.classNames)}${ttaSection({ ...test, topK: test.topK ?? {} })}` : ''}`;
}

/** Rates spanning more than a factor of 20 are drawn on a log scale, or the smaller ones would lie flat on the axis. */
const logScale = (rates: number[]): boolean =>
  rates.length > 0 && Math.min(...rates) > 0 && Math.max(...rates) / Math.min(...rates) > 20;

/** One column per stage, one row per hyperparameter: a few stages stay readable however many settings there are. */
function stageTable(stages: readonly StageView[]): string {
  if (stages.length === 0) return '';
  const number = (n: number): string => n.toLocaleString('en-US');
  const rows: [string, (s: StageView) => string][] = [
    [
      'epochs',
      (s) =>
        `${s.firstEpoch}–${s.lastEpoch}${s.epochsRun !== undefined && s.epochsRun < s.lastEpoch - s.firstEpoch + 1 ? ` (ran ${s.epochsRun}${s.stoppedEarly ? ', stopped early' : ''})` : ''}`,
    ],
    ['batch size', (s) => String(s.batchSize)],
    ['optimizer', (s) => escape(s.optimizer)],
    ['peak learning rate', (s) => s.groups.map((g) => `${escape(g.name)} ${g.learningRate}`).join('<br>')],
    ['schedule', (s) => escape(s.schedule)],
    ['what learns', (s) => escape(s.learns)],
    ['weights trained / all', (s) => `${number(s.trainableParams)} / ${number(s.totalParams)}`],
    ['batch norm', (s) => escape(s.batchNorm)],
    ['early stopping', (s) => escape(s.earlyStopping ?? '–')],
    ...(stages.some((s) => s.alignment)
      ? [['domain alignment', (s: StageView) => escape(s.alignment ?? '–')] as [string, (s: StageView) => string]]
      : []),
    ['restored epoch', (s) => (s.restoredEpoch !== undefined ? String(s.restoredEpoch) : '–')],
    ['label smoothing', (s) => String(s.labelSmoothing)],
    ['class weights', (s) => (s.classWeights ? 'yes' : '–')],
  ];
  const header = `<tr><th></th>${stages.map((s) => `<th>${escape(s.name)}</th>`).join('')}</tr>`;
  return `<table class="hyperparameters">${header}${rows.map(([name, cell]) => `<tr><th style="text-align:left">${name}</th>${stages.map((s) => `<td style="text-align:left">${cell(s)}</td>`).join('')}</tr>`).join('')}</table>`;
}

const img = (png: string, alt: string, cls: string): string =>
  `<img class="${cls}" src="data:image/png;base64,${png}" alt="${escape(alt)}" width="96" height="96">`;

/** The misclassified test examples, worst first: each image, and Grad-CAM for the class predicted and the class expected. */
function worstSection(input: ReportInput): string {
  const gallery = input.gallery;
  if (gallery && gallery.worst.length > 0) {
    const heat = gallery.layer !== undefined && gallery.worst.some((w) => w.heat);
    const header = `<tr><th>image</th>${heat ? '<th>Grad-CAM: predicted</th><th>Grad-CAM: expected</th>' : ''}<th>example</th><th>actual</th><th>p(actual)</th><th>predicted</th><th>p(predicted)</th></tr>`;
    const rows = gallery.worst
      .map(
        (w) =>
          `<tr><td>${img(w.png, w.example, 'thumbnail')}</td>${heat ? `<td>${w.heat ? img(w.heat.predicted, `Grad-CAM of ${w.predicted} on ${w.example}`, 'heatmap') : ''}</td><td>${w.heat ? img(w.heat.actual, `Grad-CAM of ${w.actual} on ${w.example}`, 'heatmap') : ''}</td>` : ''}` +
          `<td style="text-align:left">${escape(w.example)}</td><td>${escape(w.actual)}</td><td>${fixed(w.probabilityOfActual, 3)}</td><td>${escape(w.predicted)}</td><td>${fixed(w.probabilityOfPredicted, 3)}</td></tr>`,
      )
      .join('');
    const note = heat
      ? `<p class="note">Grad-CAM at layer <code>${escape(gallery.layer!)}</code>: red where the layer's activations, weighed by the gradient of the class's score, most support that class.</p>`
      : '';
    return `<h2>Most wrongly classified (test)</h2>${note}<table class="worst">${header}${rows}</table>`;
  }
  const worst = input.test?.worst ?? [];
  if (worst.length === 0)
    return input.test ? '<h2>Most wrongly classified (test)</h2><p>No test example was misclassified.</p>' : '';
  return `<h2>Most wrongly classified (test)</h2><table class="worst"><tr><th>example</th><th>actual</th><th>p(actual)</th><th>predicted</th><th>p(predicted)</th></tr>${worst
    .map(
      (w) =>
        `<tr><td style="text-align:left">${escape(w.example)}</td><td>${escape(w.actual)}</td><td>${fixed(w.probabilityOfActual, 3)}</td><td>${escape(w.predicted)}</td><td>${fixed(w.probabilityOfPredicted, 3)}</td></tr>`,
    )
    .join('')}</table>`;
}

/** For every class, its hardest test examples, misclassified ones outlined. */
function perClassGallery(gallery: StoredGallery | undefined): string {
  if (!gallery || gallery.perClass.every((c) => c.examples.length === 0)) return '';
  const figure = (e: StoredGalleryImage): string => {
    const wrong = e.predicted !== e.actual;
    return `<figure class="${wrong ? 'wrong' : 'right'}">${img(e.png, e.example, 'thumbnail')}<figcaption>${wrong ? `✗ ${escape(e.predicted)}` : '✓'} ${fixed(e.probabilityOfActual, 2)}</figcaption></figure>`;
  };
  const rows = gallery.perClass
    .map((c) => `<tr><th>${escape(c.name)}</th><td class="strip">${c.examples.map(figure).join('')}</td></tr>`)
    .join('');
  return `<h2>Hardest test examples per class</h2><p class="note">Each class's test examples with the lowest probability of their class; the caption is what the model said (✗ and the class it chose, or ✓) and p(actual).</p><table class="per-class">${rows}</table>`;
}

export function confusionHeatmap(matrix: number[][], classNames: string[]): string {
  const max = Math.max(1, ...matrix.flat());
  const header = `<tr><th>actual ↓ predicted →</th>${classNames.map((n) => `<th>${escape(n)}</th>`).join('')}</tr>`;
  const rows = matrix.map((row, i) => {
    const cells = row.map((v, j) => {
      const strength = v / max;
      const hue = i === j ? 140 : 0;
      const style = v === 0 ? '' : ` style="background:hsla(${hue},70%,45%,${(0.12 + 0.88 * strength).toFixed(2)})"`;
      return `<td${style}>${v}</td>`;
    });
    return `<tr><th>${escape(classNames[i] ?? String(i))}</th>${cells.join('')}</tr>`;
  });
  return `<table class="confusion">${header}${rows.join('')}</table>`;
}

/** The HTML document around a report's body: one file, its styles inline, no scripts, nothing fetched. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1b1f24;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart .title{font-weight:600;font-size:13px}.chart .tick,.chart .legend-label{font-size:11px;fill:#57606a}
.chart .grid{stroke:#eaeef2}.chart .stage{stroke:#8c959f;stroke-dasharray:3 3}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right}th{background:#f6f8fa}
.confusion td{min-width:34px;text-align:center}
table.compare{table-layout:fixed;width:100%}table.compare th:first-child{width:20%}
table.compare td,table.compare th{overflow-wrap:anywhere;vertical-align:top}
img.thumbnail,img.heatmap{image-rendering:pixelated;display:block}
.per-class td.strip{text-align:left}
figure{display:inline-block;margin:2px 6px 2px 0;text-align:center;font-size:12px}
figure.wrong img{outline:3px solid #cf222e}
.note{color:#57606a;font-size:13px}
pre{background:#f6f8fa;padding:12px;overflow:auto}
.headline{font-size:18px}
</style></head><body>
<h1>${escape(title)}</h1>
${body}
</body></html>
`;
}

export interface ComparedRun {
  label: string;
  metrics: MetricRow[];
}

const PALETTE = ['#1f6feb', '#d9480f', '#2da44e', '#8250df', '#bf3989', '#9a6700', '#0a7ea4', '#57606a'];

/**
 * Run `index` of `count`'s colour, a different one for every run: the
 * palette up to its size, then hues spread evenly round the wheel,
 * neighbours alternating dark and light, so 16 runs are 16 colours.
 */
export function runColour(index: number, count: number): string {
  if (count <= PALETTE.length) return PALETTE[index]!;
  return `hsl(${Math.round((index * 360) / count)}, 75%, ${index % 2 === 0 ? 38 : 52}%)`;
}

/**
 * `tlpipe report <run> <run>…` and a sweep's report: several runs' curves
 * overlaid (validation solid, training dotted, one colour per run), the
 * metrics side by side and the configuration keys that differ.
 */
export function renderComparisonReport(
  title: string,
  runs: ComparedRun[],
  tables: { metrics: { header: string[]; rows: string[][] }; config?: { header: string[]; rows: string[][] } },
): string {
  const curves = (
    pick: (r: MetricRow) => number | undefined,
    pickVal: (r: MetricRow) => number | undefined,
  ): Series[] =>
    runs.flatMap((run, i) => {
      const color = runColour(i, runs.length);
      const points = (p: (r: MetricRow) => number | undefined): [number, number][] =>
        run.metrics.flatMap((r) => {
          const v = p(r);
          return v === undefined ? [] : [[r.epoch, v] as [number, number]];
        });
      const breaks = run.metrics
        .filter((r, k) => k > 0 && r.stage !== run.metrics[k - 1]!.stage)
        .map((r) => r.epoch - 0.5);
      return [
        { name: `${run.label} validation`, color, points: points(pickVal), breaks },
        { name: `${run.label} train`, color, points: points(pick), dashed: true, breaks },
      ];
    });
  const charts = [
    lineChart(
      'loss (validation solid, train dashed)',
      curves(
        (r) => r.loss,
        (r) => r.val_loss,
      ),
    ),
    lineChart(
      'accuracy (validation solid, train dashed)',
      curves(
        (r) => r.accuracy,
        (r) => r.val_accuracy,
      ),
    ),
  ];
  const table = (t: { header: string[]; rows: string[][] }, cls: string): string => {
    const head = `<tr>${t.header.map((h) => `<th>${escape(h)}</th>`).join('')}</tr>`;
    const rows = t.rows
      .map(
        (r) =>
          `<tr>${r.map((cell, i) => (i === 0 ? `<th style="text-align:left">${escape(cell)}</th>` : `<td>${escape(cell)}</td>`)).join('')}</tr>`,
      )
      .join('');
    return `<table class="${cls}">${head}${rows}</table>`;
  };
  return page(
    title,
    `<h2>Curves</h2>
<div class="charts">${charts.join('')}</div>
<h2>Metrics</h2>
${table(tables.metrics, 'compare metrics')}
${tables.config ? `<h2>Configuration that differs</h2>${tables.config.rows.length > 0 ? table(tables.config, 'compare config') : "<p>The runs' configurations are the same.</p>"}` : ''}`,
  );
}
