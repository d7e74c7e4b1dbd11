import type { SweepEvent, SweepPlan, WorkerEvent } from '../api/sweep.js';
import { formatDiagnostic } from '../diagnostics/diagnostic.js';
import { shown } from '../progress/event-lines.js';
import { backendAndRuns, failure, setOption, usage, type CommandArgs } from './commands.js';
import { EXIT, printDiagnostics, printLine, whileRunning, type Printer } from './output.js';
import { fitColumns, TEXT_WIDTH, wrapParagraph } from './text-table.js';
import { terminalLines } from './terminal-text.js';

const short = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 24 ? `${text.slice(0, 23)}…` : text;
};

/** A word too long for a line (a path, a run folder) cut in its middle: its start and its end say more than either alone. */
const ellipsized = (word: string, max: number): string =>
  [...word].length <= max
    ? word
    : `${[...word].slice(0, Math.ceil((max - 1) / 2)).join('')}…${[...word].slice(-Math.floor((max - 1) / 2)).join('')}`;

/** A diagnostic's excerpt of the file (`  20 |     optimizer: …`, and its caret line): wrapping it would move the caret off its column. */
const EXCERPT_LINE = /^\s*\d*\s\|/;

/**
 * Text as lines of at most 100 columns: wrapped at spaces, a word longer than a line cut in
 * its middle. Every line a sweep or worker prints comes through here, and much of it quotes
 * files of a shared folder or Redis (a trial's reason, a worker's log): control characters are escaped.
 */
export function fittedLines(text: string, width = TEXT_WIDTH): string[] {
  return terminalLines(text)
    .split('\n')
    .flatMap((line) => (EXCERPT_LINE.test(line) ? [line] : wrapParagraph(line, width, 4)))
    .map((line) => {
      if ([...line].length <= width || EXCERPT_LINE.test(line)) return line;
      const indent = /^ */.exec(line)![0];
      return `${indent}${ellipsized(line.slice(indent.length), width - indent.length)}`;
    });
}

/** `text` cut at its end to `max` columns, with an ellipsis. */
const clipped = (text: string, max: number): string =>
  [...text].length <= max ? text : `${[...text].slice(0, Math.max(0, max - 1)).join('')}…`;

/** `tlpipe plan` on a pipeline with a sweep: the trials, and what they compute once and share. */
export function formatSweepPlan(plan: SweepPlan): string {
  const { spec, trials } = plan;
  const duplicates = trials.filter((t) => t.duplicateOf !== undefined).length;
  const lines = [
    `sweep: ${spec.method}, ${trials.length} trial(s) (${trials.length - duplicates} to run${duplicates ? `, ${duplicates} with the plan of an earlier one` : ''}), ranked by ${spec.metric.name} (${spec.metric.goal})${spec.earlyTerminate ? `; early termination: asha from epoch ${spec.earlyTerminate.minEpochs}, factor ${spec.earlyTerminate.reductionFactor}` : ''}`,
    '',
  ];
  const names = spec.parameters.map((p) => p.name);
  // Key paths are shown by their last key in the table (the whole path when two end alike), and in full above it.
  const lastKey = (n: string): string => n.split('.').at(-1)!;
  const labels = names.map((n) => (names.filter((o) => lastKey(o) === lastKey(n)).length > 1 ? n : lastKey(n)));
  const abbreviated = names.flatMap((n, i) => (labels[i] !== n ? [`  ${labels[i]} = ${n}`] : []));
  if (abbreviated.length > 0) lines.push(...abbreviated, '');
  lines.push(
    ...fitColumns([
      ['trial', ...labels, 'plan', 'epochs', 'shared with others (trials)'],
      ...trials.map((t) => [
        String(t.index),
        ...names.map((n) => short(t.values[n])),
        t.fingerprint.slice(0, 8),
        String(t.epochs),
        t.duplicateOf !== undefined
          ? `same plan as trial ${t.duplicateOf}: not run`
          : t.shares.map((s) => `${s.task} ×${s.with.length + 1}`).join(', ') || '–',
      ]),
    ]),
  );
  lines.push('', 'computed once per distinct fingerprint, then shared through the stage cache:');
  for (const w of plan.work) lines.push(`  ${w.task}: ${w.distinct} for ${w.trials} trial(s)`);
  return lines.join('\n');
}

export async function sweepCommand({ positional: [file], options }: CommandArgs, print: Printer): Promise<number> {
  const jobs = Number(options['jobs'] ?? 1);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    return usage(`-j takes a number of trials at once from 1 to 64, got '${String(options['jobs'])}'`, print);
  const resumeRef = options['resume'] as string | undefined;
  if (!file && !resumeRef) return usage('name a pipeline, or --resume <sweep>', print);
  if (file && resumeRef) return usage('give either a pipeline or --resume <sweep>, not both', print);
  const overrides = await setOption(options);
  if (!Array.isArray(overrides)) return usage(overrides.message, print);
  const json = options['json'] === true;
  const quiet = options['quiet'] === true;
  const say = (line: string): void => {
    if (!quiet) for (const fitted of fittedLines(line)) printLine(print.err, fitted);
  };
  const onEvent = (event: SweepEvent): void => {
    if (json && event.type !== 'trial-event') printLine(print.out, JSON.stringify(event));
    if (!json) describeSweepEvent(event, say);
  };
  const common = {
    jobs,
    onEvent,
    ...backendAndRuns(options),
    ...(options['queue'] ? { queue: String(options['queue']) } : {}),
    ...(options['cache'] === false ? { noCache: true } : {}),
  };
  const api = await import('../api/sweep.js');
  const result = await whileRunning(
    (signal) =>
      resumeRef
        ? api.resumeSweep(resumeRef, { ...common, signal })
        : api.sweep(file!, { ...common, overrides, signal }),
    () => say('stopping: running trials end at their next batch, marked interrupted (again to quit at once)'),
  );
  printDiagnostics(result.warnings, print);
  if (!result.value) return failure(result.diagnostics, print, json, options);
  // A trial's reason can be long (a worker's refusal names two folders): wrapped, not cut, as it is all there is to go on.
  for (const d of result.diagnostics) for (const line of fittedLines(formatDiagnostic(d))) printLine(print.err, line);
  const { record, paths } = result.value;
  const where = shown(result.value.dir);
  const best = record.best
    ? `trial ${record.best.index}, ${record.spec.metric.name} ${record.best.metric.toFixed(4)} (${record.best.run})`
    : 'no completed trial';
  const summary = [
    `sweep ${record.status}: ${where}`,
    `  best:    ${best}`,
    `  ranked:  ${api.rankingRule(record.spec.metric)}`,
    `  results: ${shown(paths.results)}`,
    `  report:  ${shown(paths.report)}`,
    ...(result.ok ? [] : [`  continue it with: tlpipe sweep --resume ${where}`]),
  ];
  if (!json) for (const line of fittedLines(summary.join('\n'))) printLine(result.ok ? print.out : print.err, line);
  return result.ok ? EXIT.ok : result.interrupted ? EXIT.interrupted : EXIT.failed;
}

function describeSweepEvent(event: SweepEvent, say: (line: string) => void): void {
  switch (event.type) {
    case 'sweep-start':
      say(
        `sweep ${shown(event.dir)}: ${event.trials} trial(s)${event.duplicates ? ` (${event.duplicates} duplicate)` : ''}, ${event.runner.kind === 'local' ? `${event.runner.jobs} at a time here` : `on the queue ${event.runner.queue}`}${event.resumed ? ', resumed' : ''}`,
      );
      break;
    case 'trial': {
      const { state, counts } = event;
      // A running trial is said once, with its values; its run folder is named when it ends.
      if (state.status === 'running') {
        if (!state.run)
          say(
            `trial ${state.index} running: ${Object.entries(event.values)
              .map(([k, v]) => `${k}=${short(v)}`)
              .join(' ')}`,
          );
        break;
      }
      const metric = state.metric !== undefined ? ` ${state.metric.toFixed(4)}` : '';
      const best = event.best ? `; best ${event.best.index}: ${event.best.metric.toFixed(4)}` : '';
      const tally = ` [${counts.completed + counts.stopped}/${counts.total} done, ${counts.running} running, ${counts.failed} failed${best}]`;
      const head = `trial ${state.index} ${state.status}${metric}${state.run ? ` ${ellipsized(state.run, 40)}` : ''}`;
      // A diagnostic's place (file:line:col) is in the sweep's last lines, whole; here the message says more in the room there is.
      const reason =
        state.status !== 'completed' && state.reason
          ? state.reason.split('\n')[0]!.replace(/^\S+:\d+:\d+: (error|warning): /, '')
          : '';
      // One line when it fits; else the reason on a line of its own under it, cut at its end (it is whole in the sweep folder).
      if ([...`${head} — ${reason}${tally}`].length <= TEXT_WIDTH || !reason)
        say(`${head}${reason ? ` — ${reason}` : ''}${tally}`);
      else say(`${head}${tally}\n    ${clipped(reason, TEXT_WIDTH - 4)}`);
      break;
    }
    case 'log':
      say(event.message);
      break;
    case 'trial-event':
    case 'sweep-end':
      break;
  }
}

export async function workerCommand({ options }: CommandArgs, print: Printer): Promise<number> {
  const jobs = Number(options['jobs'] ?? 1);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)
    return usage(`-j takes a number of trials at once from 1 to 64, got '${String(options['jobs'])}'`, print);
  const json = options['json'] === true;
  const say = (line: string): void => {
    for (const fitted of fittedLines(line)) printLine(print.err, fitted);
  };
  const { worker } = await import('../api/sweep.js');
  const result = await whileRunning(
    (signal) =>
      worker({
        queue: String(options['queue']),
        jobs,
        signal,
        ...backendAndRuns(options),
        onEvent: (event: WorkerEvent) => {
          if (json && event.type !== 'trial-event') printLine(print.out, JSON.stringify(event));
          if (json) return;
          if (event.type === 'log') say(event.message);
          if (event.type === 'trial-state') {
            const { state } = event;
            const head = `trial ${state.index} ${state.status}${state.run ? ` (${ellipsized(state.run, 40)})` : ''}${state.metric !== undefined ? ` ${state.metric.toFixed(4)}` : ''}`;
            say(
              `${head}${clipped(state.reason && state.status !== 'running' ? ` — ${state.reason.split('\n')[0]}` : '', TEXT_WIDTH - [...head].length)}`,
            );
          }
        },
      }),
    () => say('stopping: running trials end at their next batch and go back to the queue (again to quit at once)'),
  );
  if (!result.ok) {
    for (const d of result.diagnostics) say(formatDiagnostic(d));
    return EXIT.failed;
  }
  say(
    `worker stopped after ${result.value.processed} trial(s)${result.value.refused ? `, ${result.value.refused} job(s) refused` : ''}`,
  );
  return EXIT.ok;
}
