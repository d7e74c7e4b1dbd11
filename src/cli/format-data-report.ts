import type { DatasetReport } from '../api/index.js';
import type { ColumnSummary } from '../engine/data/describe-dataset.js';
import { TASK_LINES } from './tasks/registry.js';
import { terminalText } from './terminal-text.js';
import { wrapParagraph } from './text-table.js';

/** The dataset report as a table: classes down, splits across. Class and file names come from the data: shown escaped. */
export function formatDataReport(report: DatasetReport): string {
  const splits = ['train', 'validation', 'test'] as const;
  const header = ['class', ...splits];
  const rows = report.classNames.map((name, c) => [
    terminalText(name),
    ...splits.map((s) => String(report.counts[s][c] ?? 0)),
  ]);
  rows.push(['total', ...splits.map((s) => String(report.counts[s].reduce((a, b) => a + b, 0)))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const { width, height, examples } = report.sourceSize;
  const out = [
    `${report.format}: ${report.classNames.length} classes, dataset digest ${report.digest.slice(0, 12)}${report.counted === 'pixels' ? ' (counts are mask pixels at the image size)' : ''}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...(report.rows
      ? describeColumns(report.rows.columns)
      : [
          `images as read (${examples}): width ${width.min}–${width.max} (median ${width.median}), height ${height.min}–${height.max} (median ${height.median}); fed to the base at ${report.inputSize.join('×')}`,
          `pixels: ${report.storage === 'memory' ? 'decoded once, held in memory' : 'decoded per batch (too many to hold in memory)'}`,
        ]),
  ];
  // Only a task that uses part of the data has a line (anomaly: the normal classes' images).
  const taskLine = Object.values(TASK_LINES)
    .map((lines) => lines.data?.(report))
    .find((line) => line !== undefined);
  if (taskLine) out.push('', ...wrapParagraph(taskLine));
  if (report.domainShift) out.push('', ...wrapParagraph(domainShiftLine(report.domainShift)));
  if (report.domainShiftSkipped) out.push('', `domain shift: not measured, ${report.domainShiftSkipped}`);
  if (report.source) out.push('', ...wrapParagraph(sourceLine(report.source, report.classNames)));
  if (report.skipped.length > 0) {
    out.push(
      '',
      `skipped (cannot be decoded): ${report.skipped.length}`,
      ...report.skipped.map((s) => `  ${terminalText(s.file)}: ${terminalText(s.reason)}`),
    );
  }
  if (report.ignored.length > 0) {
    const reasons = new Map<string, number>();
    for (const s of report.ignored) reasons.set(terminalText(s.reason), (reasons.get(s.reason) ?? 0) + 1);
    out.push(
      '',
      `ignored: ${report.ignored.length} (${[...reasons].map(([reason, n]) => `${n} ${reason}`).join(', ')})`,
    );
  }
  if (report.imbalance.rareClasses.length > 0) {
    out.push(
      '',
      `warning: classes are imbalanced (largest/smallest training class = ${report.imbalance.ratio.toFixed(1)}); rare: ${report.imbalance.rareClasses.map(terminalText).join(', ')}`,
      report.counted === 'pixels'
        ? '  hint: `train.classWeights: balanced` weighs each pixel by its class’s rarity'
        : '  hint: set `limit.perClass` to even out the classes, or add examples of the rare ones',
    );
  }
  return out.join('\n');
}

/** What `dataset.source` adds to the training split: per class, the classes renamed or left out, the weight. Names come from the data: escaped. */
function sourceLine(source: NonNullable<DatasetReport['source']>, classNames: readonly string[]): string {
  const weighs = `weight ${source.weight}${source.decay === 1 ? '' : `, × ${source.decay} per epoch`}`;
  if (!source.perClass) return `source (${source.format}): ${weighs}: not read, the run is the run without it`;
  const total = source.perClass.reduce((a, b) => a + b, 0);
  const perClass = source.perClass
    .map((n, c) => (n > 0 ? `${terminalText(classNames[c] ?? String(c))} ${n}` : ''))
    .filter(Boolean)
    .join(', ');
  const renamed = (source.mapped ?? []).filter((m) => m.from !== m.to);
  return [
    `source (${source.format}): ${total} ${total === 1 ? 'example joins' : 'examples join'} the training split only (${perClass}), ${weighs}`,
    ...(renamed.length > 0
      ? [`mapped ${renamed.map((m) => `${terminalText(m.from)} → ${terminalText(m.to)}`).join(', ')}`]
      : []),
    ...(source.dropped && source.dropped.length > 0
      ? [`left out (no matching class): ${source.dropped.map(terminalText).join(', ')}`]
      : []),
    ...(source.skipped ? [`${source.skipped} source ${source.skipped === 1 ? 'file' : 'files'} skipped`] : []),
  ].join('; ');
}

/** The feature columns over the training rows, as the model receives them after standardising. */
function describeColumns(columns: readonly ColumnSummary[]): string[] {
  const number = (v: number): string => (Number.isInteger(v) ? String(v) : v.toPrecision(4));
  const rows = columns.map((c) => [terminalText(c.name), number(c.min), number(c.mean), number(c.max)]);
  const header = ['feature column', 'min', 'mean', 'max'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [
    `rows: ${columns.length} feature columns, each standardised with the training split's mean and std before the model sees it`,
    '',
    // The numbers are the training split's only (the validation and test rows are not summed in): said, not left to be guessed.
    'feature columns (training split):',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ];
}

/** `adapt:`: the shift before adaptation, and what the number means. */
function domainShiftLine(shift: NonNullable<DatasetReport['domainShift']>): string {
  const auroc = shift.before.auroc;
  const apart = Math.max(0, auroc - 0.5);
  // 0.15: the audit's shift warning (engine/audit/domain-shift SHIFT_WARNING); a few dozen images of one domain score up to about 0.6 against themselves.
  const reading = apart < 0.15 ? 'little or no shift' : apart < 0.3 ? 'a moderate shift' : 'a large shift';
  const after = shift.after
    ? `; after AdaBN: AUROC ${shift.after.auroc.toFixed(3)}`
    : shift.method === 'adabn'
      ? ''
      : `; ${shift.method} adapts while training, so only a run measures the shift after it`;
  return `domain shift before adaptation (adapt.method ${shift.method}): AUROC ${auroc.toFixed(3)} telling ${shift.target} target from ${shift.train} training images by the base's ${terminalText(shift.features)} features (0.5: indistinguishable, 1: two domains) — ${reading}${after}`;
}
