import type { AuditInfo } from '../api/audit.js';
import { formatEventLine, shown } from '../progress/event-lines.js';
import { fitText } from '../progress/text-width.js';
import { backendAndRuns, failure, setOption, usage, type CommandArgs } from './commands.js';
import { EXIT, printDiagnostics, printLine, whileRunning, type Printer } from './output.js';
import { terminalText } from './terminal-text.js';

/** Findings listed per kind in the text output (audit.html and audit.json have more). */
const LISTED = 10;

/** `tlpipe audit <pipeline>`: the audit written, what it found printed; findings are not a failure (exit 0). */
export async function auditCommand({ positional: [file], options }: CommandArgs, print: Printer): Promise<number> {
  const overrides = await setOption(options);
  if (!Array.isArray(overrides)) return usage(overrides.message, print);
  const folds = numberOption(options['folds'], '--folds');
  const threshold = numberOption(options['threshold'], '--threshold');
  for (const parsed of [folds, threshold]) if (typeof parsed === 'string') return usage(parsed, print);
  const json = options['json'] === true;
  const { audit } = await import('../api/audit.js');
  const onEvent = (event: Parameters<typeof formatEventLine>[0]): void => {
    const line = formatEventLine(event);
    if (line !== undefined) printLine(print.err, fitText(line));
  };
  const result = await whileRunning((signal) =>
    audit(file!, {
      overrides,
      ...backendAndRuns(options),
      ...(typeof folds === 'number' ? { folds } : {}),
      ...(typeof threshold === 'number' ? { threshold } : {}),
      ...(options['fix'] ? { fix: String(options['fix']) } : {}),
      ...(options['cache'] === false ? { noCache: true } : {}),
      onEvent,
      signal,
    }),
  );
  printDiagnostics(result.warnings, print);
  if (!result.ok) {
    if ('interrupted' in result && result.interrupted) {
      printLine(print.err, 'audit interrupted: nothing was written');
      return EXIT.interrupted;
    }
    return failure(result.diagnostics, print, json, options);
  }
  const info = result.value;
  if (json) {
    const { thumbnails: _thumbnails, ...audited } = info.audit;
    printLine(print.out, JSON.stringify({ ...info, audit: audited }, null, 2));
  } else printLine(print.out, formatAudit(info));
  return EXIT.ok;
}

/** A number option, or why it is not one. */
function numberOption(value: unknown, flag: string): number | string | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : `${flag} takes a number, got '${String(value)}'`;
}

/** How a pair was found. */
function pairVerdict(p: AuditInfo['audit']['duplicates']['leaks'][number]): string {
  if (p.exact) return 'identical pixels';
  if (p.pixelDistance !== undefined)
    return `the same picture moved or recompressed, pixel distance ${p.pixelDistance.toFixed(3)}`;
  return `feature similarity ${p.similarity.toFixed(3)}`;
}

/** What the audit found, for people. */
export function formatAudit(info: AuditInfo): string {
  const a = info.audit;
  const name = (k: number): string => terminalText(a.classes[k] ?? String(k));
  const c = a.duplicates.counts;
  const lines = [
    `audited ${a.examples.train} train, ${a.examples.validation} validation, ${a.examples.test} test examples of ${info.pipeline} in ${a.seconds.toFixed(1)} s`,
    `  (features of ${a.features.width} values; out-of-fold accuracy ${a.outOfFoldAccuracy.toFixed(3)} over ${a.settings.folds} folds)`,
    '',
    `likely label errors: ${a.labelIssues.total}`,
    ...(a.weakFeatures
      ? [
          `  (the features separate the classes poorly: many of these are the classifier's mistakes, not wrong labels;`,
          `   a base cut whose features suit these images makes the label audit sharper)`,
        ]
      : []),
    ...a.labelIssues.shown
      .slice(0, LISTED)
      .map(
        (e) =>
          `  ${terminalText(e.name)} (${e.split}): labelled ${name(e.label)}, looks like ${name(e.suggested)} (p(label) ${e.selfConfidence.toFixed(3)}, margin ${e.margin.toFixed(3)})`,
      ),
    `train/test leaks: ${c.exactLeaks} exact, ${c.nearLeaks} near (moved or recompressed, or feature similarity ≥ ${a.settings.threshold})`,
    ...a.duplicates.leaks
      .slice(0, LISTED)
      .map(
        (p) => `  ${p.a.split} ${terminalText(p.a.name)} ≈ ${p.b.split} ${terminalText(p.b.name)} (${pairVerdict(p)})`,
      ),
    `duplicates within a split: ${c.exactWithin} exact, ${c.nearWithin} near`,
    ...a.duplicates.within
      .slice(0, LISTED)
      .map((p) => `  ${p.a.split} ${terminalText(p.a.name)} ≈ ${terminalText(p.b.name)} (${pairVerdict(p)})`),
    `class balance: largest/smallest ${Number.isFinite(a.balance.ratio ?? Number.NaN) ? (a.balance.ratio as number).toFixed(2) : '∞'}${a.balance.warn ? ' — imbalanced: weigh the classes (train.classWeights: balanced) or collect more of the small ones' : ''}`,
    ...a.confusion.hardPairs.map(
      (p) => `  hard to separate: ${(p.share * 100).toFixed(0)}% of ${name(p.actual)} predicted ${name(p.predicted)}`,
    ),
    ...a.imageStatistics.outliers.map(
      (o) =>
        `  class ${name(o.class)} is much ${o.statistic === 'brightness' ? (o.direction === 'higher' ? 'brighter' : 'darker') : o.direction === 'higher' ? 'more contrasted' : 'flatter'} than the others (${o.statistic} ${o.value.toFixed(1)} vs ${o.others.toFixed(1)}): a shortcut the model can learn`,
    ),
    a.shift
      ? `train/test shift: AUROC ${a.shift.auroc.toFixed(3)} of a classifier telling the splits apart${a.shift.warn ? ' — the test split looks different from the training data' : ' (about 0.5: no shift)'}`
      : 'train/test shift: not measured (needs a test split and at least 10 examples on each side)',
    '',
    `written: ${shown(info.paths.html)}`,
    `         ${shown(info.paths.json)}`,
    ...(info.paths.fix
      ? [`suggested fixes (${info.fixes} rows): ${shown(info.paths.fix)}; your files are unchanged`]
      : []),
  ];
  return lines.join('\n');
}
