/**
 * report.html: one self-contained page (no scripts, no network) with the
 * training curves as inline SVG, the confusion matrix as a heatmap, the
 * per-class metrics, the run metadata and the pipeline as run.
 */

interface MetricRow {
  stage: string;
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
  lr?: number;
  learningRates?: Record<string, number>;
}

interface ReportInput {
  title: string;
  run: Record<string, unknown>;
  metrics: MetricRow[];
  test?: {
    loss: number;
    accuracy: number;
    perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
    confusionMatrix: number[][];
    worst?: { example: string; actual: string; predicted: string; probabilityOfActual: number; probabilityOfPredicted: number }[];
  };
  classNames: string[];
  pipelineYaml: string;
  /** `baseline: scratch`: the same architecture trained from random initialisation, drawn on the same charts. */
  baseline?: { metrics: MetricRow[]; test?: { accuracy: number; loss: number } };
}

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const fixed = (n: number | undefined, digits = 4): string => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));

interface Series { name: string; color: string; points: [number, number][]; dashed?: boolean }

/** A line chart with stage boundaries marked; x is the continuous epoch number. */
export function lineChart(title: string, series: Series[], boundaries: { epoch: number; stage: string }[]): string {
  const width = 520, height = 260, left = 52, right = 16, top = 28, bottom = 40;
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const xs = all.map(([x]) => x), ys = all.map(([, y]) => y);
  const xMin = Math.min(...xs, 0), xMax = Math.max(...xs, 1);
  let yMin = Math.min(...ys), yMax = Math.max(...ys);
  // A flat series (a constant learning rate) gets a band around its value, never a negative axis for a positive quantity.
  if (yMax - yMin < 1e-12) { const pad = Math.abs(yMax) * 0.5 || 0.5; yMin = yMin - pad < 0 && yMin >= 0 ? 0 : yMin - pad; yMax += pad; }
  const tick = (v: number): string => (v === 0 || Math.abs(v) >= 0.01 ? v.toFixed(3) : v.toExponential(1));
  const sx = (x: number): number => left + ((x - xMin) / (xMax - xMin)) * (width - left - right);
  const sy = (y: number): number => top + (1 - (y - yMin) / (yMax - yMin)) * (height - top - bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => yMin + f * (yMax - yMin));
  const parts = [
    `<svg class="chart" role="img" aria-label="${escape(title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`,
    `<text x="${left}" y="18" class="title">${escape(title)}</text>`,
    ...ticks.map((t) => `<line x1="${left}" x2="${width - right}" y1="${sy(t)}" y2="${sy(t)}" class="grid"/><text x="${left - 6}" y="${sy(t) + 4}" text-anchor="end" class="tick">${tick(t)}</text>`),
    ...boundaries.map((b) => `<line x1="${sx(b.epoch)}" x2="${sx(b.epoch)}" y1="${top}" y2="${height - bottom}" class="stage"/><text x="${sx(b.epoch) + 4}" y="${top + 12}" class="tick">${escape(b.stage)}</text>`),
    ...epochTicks(xMin, xMax).map((x) => `<text x="${sx(x)}" y="${height - bottom + 14}" text-anchor="middle" class="tick">${x}</text>`),
    `<text x="${(left + width - right) / 2}" y="${height - 4}" text-anchor="middle" class="tick">epoch</text>`,
    ...series.filter((s) => s.points.length > 0).map((s) => {
      const d = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      const dots = s.points.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`).join('');
      return `<path class="series" data-series="${escape(s.name)}" d="${d}" stroke="${s.color}" fill="none" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>${dots}`;
    }),
    // The legend sits in the title row, right-aligned, clear of the curves.
    `<text x="${width - right}" y="18" text-anchor="end" class="tick">${series.map((s) => `<tspan style="fill:${s.color}">— ${escape(s.name)}</tspan>`).join('<tspan>  </tspan>')}</text>`,
    '</svg>',
  ];
  return parts.join('\n');
}

/** About six whole-epoch ticks between the ends. */
function epochTicks(min: number, max: number): number[] {
  const step = Math.max(1, Math.ceil((max - min) / 6));
  const ticks: number[] = [];
  for (let x = Math.max(1, Math.ceil(min)); x <= max; x += step) ticks.push(x);
  return ticks;
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

export function renderReport(input: ReportInput): string {
  const epochs = (pick: (r: MetricRow) => number | undefined): [number, number][] =>
    input.metrics.flatMap((r) => { const v = pick(r); return v === undefined ? [] : [[r.epoch, v] as [number, number]]; });
  const boundaries = input.metrics.filter((r, i) => i > 0 && r.stage !== input.metrics[i - 1]!.stage).map((r) => ({ epoch: r.epoch - 0.5, stage: r.stage }));
  const scratch = (pick: (r: MetricRow) => number | undefined): [number, number][] =>
    (input.baseline?.metrics ?? []).flatMap((r) => { const v = pick(r); return v === undefined ? [] : [[r.epoch, v] as [number, number]]; });
  const baselineSeries = (pick: (r: MetricRow) => number | undefined, pickVal: (r: MetricRow) => number | undefined): Series[] =>
    input.baseline ? [{ name: 'scratch train', color: '#8c959f', points: scratch(pick) }, { name: 'scratch val', color: '#bf3989', points: scratch(pickVal), dashed: true }] : [];
  const loss = lineChart('loss', [
    { name: 'train', color: '#1f6feb', points: epochs((r) => r.loss) },
    { name: 'validation', color: '#d9480f', points: epochs((r) => r.val_loss), dashed: true },
    ...baselineSeries((r) => r.loss, (r) => r.val_loss),
  ], boundaries);
  const accuracy = lineChart('accuracy', [
    { name: 'train', color: '#1f6feb', points: epochs((r) => r.accuracy) },
    { name: 'validation', color: '#d9480f', points: epochs((r) => r.val_accuracy), dashed: true },
    ...baselineSeries((r) => r.accuracy, (r) => r.val_accuracy),
  ], boundaries);
  const groups = [...new Set(input.metrics.flatMap((r) => Object.keys(r.learningRates ?? {})))];
  // Its own colours, apart from the train/validation pair of the other charts.
  const palette = ['#2da44e', '#8250df', '#bf3989', '#9a6700'];
  const learningRate = lineChart('learning rate (at each epoch\'s first step)', groups.length > 0
    ? groups.map((g, i) => ({ name: g, color: palette[i % palette.length]!, points: epochs((r) => r.learningRates?.[g] ?? r.lr) }))
    : [{ name: 'lr', color: '#2da44e', points: epochs((r) => r.lr) }], boundaries);
  const test = input.test;
  const perClass = test
    ? `<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>${Object.entries(test.perClass)
        .map(([name, m]) => `<tr><td>${escape(name)}</td><td>${fixed(m.precision, 3)}</td><td>${fixed(m.recall, 3)}</td><td>${fixed(m.f1, 3)}</td><td>${m.support}</td></tr>`)
        .join('')}</table>`
    : '<p>No test split.</p>';
  const worst = test?.worst?.length
    ? `<h2>Most wrongly classified (test)</h2><table><tr><th>example</th><th>actual</th><th>p(actual)</th><th>predicted</th><th>p(predicted)</th></tr>${test.worst
        .map((w) => `<tr><td style="text-align:left">${escape(w.example)}</td><td>${escape(w.actual)}</td><td>${fixed(w.probabilityOfActual, 3)}</td><td>${escape(w.predicted)}</td><td>${fixed(w.probabilityOfPredicted, 3)}</td></tr>`)
        .join('')}</table>`
    : '';
  const meta = Object.entries(input.run)
    .map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`)
    .join('');
  const baselineLine = input.baseline?.test
    ? `<p class="headline">scratch baseline (same architecture and stages, random initialisation): test accuracy <b id="baseline-accuracy">${fixed(input.baseline.test.accuracy)}</b>, test loss ${fixed(input.baseline.test.loss)}</p>`
    : '';
  return page(input.title, `<p class="headline">${test ? `test accuracy <b id="test-accuracy">${fixed(test.accuracy)}</b>, test loss ${fixed(test.loss)}` : 'no test split'}</p>
${baselineLine}
<h2>Training curves</h2>
<div class="charts">${loss}${accuracy}${learningRate}</div>
${test ? `<h2>Confusion matrix (test)</h2>${confusionHeatmap(test.confusionMatrix, input.classNames)}` : ''}
<h2>Per-class metrics (test)</h2>${perClass}
${worst}
<h2>Run</h2><table>${meta}</table>
<h2>Pipeline as run</h2><pre>${escape(input.pipelineYaml)}</pre>`);
}

/** The HTML document around a report's body: one file, its styles inline, no scripts, nothing fetched. */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1b1f24;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart .title{font-weight:600;font-size:13px}.chart .tick{font-size:11px;fill:#57606a}
.chart .grid{stroke:#eaeef2}.chart .stage{stroke:#8c959f;stroke-dasharray:3 3}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right}th{background:#f6f8fa}
.confusion td{min-width:34px;text-align:center}
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

/**
 * `tlpipe report <run> <run>…`: several runs' validation (or training)
 * curves overlaid, and a table of what differs: config and metrics.
 */
export function renderComparisonReport(title: string, runs: ComparedRun[], table: { header: string[]; rows: string[][] }): string {
  const palette = ['#1f6feb', '#d9480f', '#2da44e', '#8250df', '#bf3989', '#9a6700', '#0a7ea4', '#57606a'];
  const curve = (pick: (r: MetricRow) => number | undefined) => runs.map((run, i) => ({
    name: run.label,
    color: palette[i % palette.length]!,
    points: run.metrics.flatMap((r) => { const v = pick(r); return v === undefined ? [] : [[r.epoch, v] as [number, number]]; }),
  }));
  const hasValidation = runs.some((r) => r.metrics.some((m) => m.val_loss !== undefined));
  const charts = hasValidation
    ? [lineChart('validation loss', curve((r) => r.val_loss), []), lineChart('validation accuracy', curve((r) => r.val_accuracy), [])]
    : [lineChart('training loss', curve((r) => r.loss), []), lineChart('training accuracy', curve((r) => r.accuracy), [])];
  const head = `<tr>${table.header.map((h) => `<th>${escape(h)}</th>`).join('')}</tr>`;
  const rows = table.rows.map((r) => `<tr>${r.map((cell, i) => (i === 0 ? `<th style="text-align:left">${escape(cell)}</th>` : `<td>${escape(cell)}</td>`)).join('')}</tr>`).join('');
  return page(title, `<h2>Curves</h2>
<div class="charts">${charts.join('')}</div>
<h2>Side by side</h2>
<table class="compare">${head}${rows}</table>`);
}