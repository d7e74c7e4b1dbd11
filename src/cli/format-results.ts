import type { Comparison, Evaluation, Explanation, RunOverview, ZooListing } from '../api/index.js';
import { formatComparedNumber } from '../api/compared-number.js';
import type { TaskName } from '../format/types.js';
import { formatPrediction, TASK_LINES } from './tasks/registry.js';
import type { TaskLines } from './tasks/task-lines.js';
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
  // Values are leaves (a scalar, a list of scalars); a long one is cut short in the table, --json has it in full.
  const show = (v: unknown): string => {
    const text = v === undefined ? '–' : typeof v === 'number' ? String(Number(v.toPrecision(6))) : JSON.stringify(v);
    return text.length > 60 ? `${text.slice(0, 59)}…` : text;
  };
  const num = formatComparedNumber;
  const header = ['', ...c.runs.map((r) => `${r.pipeline}/${r.id}`)];
  const rows: string[][] = [
    ['status', ...c.runs.map((r) => r.status)],
    ['seconds', ...c.runs.map((r) => num('seconds', r.seconds))],
    ['test accuracy', ...c.runs.map((r) => num('accuracy', r.testAccuracy))],
    ['test loss', ...c.runs.map((r) => num('loss', r.testLoss))],
    ...(c.runs.some((r) => r.testMeanIoU !== undefined)
      ? [['test mean IoU', ...c.runs.map((r) => num('meanIoU', r.testMeanIoU))]]
      : []),
    ...(c.runs.some((r) => r.testAuroc !== undefined)
      ? [['test AUROC', ...c.runs.map((r) => num('auroc', r.testAuroc))]]
      : []),
  ];
  const stageRows = c.stages.map((s) => [`${s.stage} ${s.metric}`, ...s.values.map((v) => num(s.metric, v))]);
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
  return (TASK_LINES[evaluation.task] as TaskLines<TaskName>).evaluation(evaluation as never);
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
