import type { SweepEvent, SweepPlan, WorkerEvent } from '../api/sweep.js';
import { formatDiagnostic } from '../diagnostics/diagnostic.js';
import { shown } from '../progress/event-lines.js';
import { backendAndRuns, failure, setOption, usage, type CommandArgs } from './commands.js';
import { EXIT, printDiagnostics, printLine, whileRunning, type Printer } from './output.js';
import { fitColumns } from './text-table.js';

const short = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 24 ? `${text.slice(0, 23)}…` : text;
};

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
  lines.push(...fitColumns([
    ['trial', ...labels, 'plan', 'epochs', 'shared with others (trials)'],
    ...trials.map((t) => [
      String(t.index), ...names.map((n) => short(t.values[n])), t.fingerprint.slice(0, 8), String(t.epochs),
      t.duplicateOf !== undefined ? `same plan as trial ${t.duplicateOf}: not run` : t.shares.map((s) => `${s.task} ×${s.with.length + 1}`).join(', ') || '–',
    ]),
  ]));
  lines.push('', 'computed once per distinct fingerprint, then shared through the stage cache:');
  for (const w of plan.work) lines.push(`  ${w.task}: ${w.distinct} for ${w.trials} trial(s)`);
  return lines.join('\n');
}

export async function sweepCommand({ positional: [file], options }: CommandArgs, print: Printer): Promise<number> {
  const jobs = Number(options['jobs'] ?? 1);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) return usage(`-j takes a number of trials at once from 1 to 64, got '${String(options['jobs'])}'`, print);
  const resumeRef = options['resume'] as string | undefined;
  if (!file && !resumeRef) return usage('name a pipeline, or --resume <sweep>', print);
  if (file && resumeRef) return usage('give either a pipeline or --resume <sweep>, not both', print);
  const overrides = await setOption(options);
  if (!Array.isArray(overrides)) return usage(overrides.message, print);
  const json = options['json'] === true;
  const quiet = options['quiet'] === true;
  const say = (line: string): void => {
    if (!quiet) printLine(print.err, line);
  };
  const onEvent = (event: SweepEvent): void => {
    if (json && event.type !== 'trial-event') printLine(print.out, JSON.stringify(event));
    if (!json) describeSweepEvent(event, say);
  };
  const common = { jobs, onEvent, ...backendAndRuns(options), ...(options['queue'] ? { queue: String(options['queue']) } : {}), ...(options['cache'] === false ? { noCache: true } : {}) };
  const api = await import('../api/sweep.js');
  const result = await whileRunning(
    (signal) => (resumeRef ? api.resumeSweep(resumeRef, { ...common, signal }) : api.sweep(file!, { ...common, overrides, signal })),
    () => say('stopping: running trials end at their next batch, marked interrupted (again to quit at once)'),
  );
  printDiagnostics(result.warnings, print);
  if (!result.value) return failure(result.diagnostics, print, json, options);
  printDiagnostics(result.diagnostics, print);
  const { record, paths } = result.value;
  const where = shown(result.value.dir);
  const best = record.best ? `best: trial ${record.best.index}, ${record.spec.metric.name} ${record.best.metric.toFixed(4)} (${record.best.run})` : 'no completed trial';
  if (!json) printLine(result.ok ? print.out : print.err, `sweep ${record.status}: ${where} — ${best}\n  results: ${shown(paths.results)}\n  report:  ${shown(paths.report)}${result.ok ? '' : `\n  continue it with: tlpipe sweep --resume ${where}`}`);
  return result.ok ? EXIT.ok : result.interrupted ? EXIT.interrupted : EXIT.failed;
}

function describeSweepEvent(event: SweepEvent, say: (line: string) => void): void {
  switch (event.type) {
    case 'sweep-start':
      say(`sweep ${shown(event.dir)}: ${event.trials} trial(s)${event.duplicates ? ` (${event.duplicates} duplicate)` : ''}, ${event.runner.kind === 'local' ? `${event.runner.jobs} at a time here` : `on the queue ${event.runner.queue}`}${event.resumed ? ', resumed' : ''}`);
      break;
    case 'trial': {
      const { state, counts } = event;
      // A running trial is said once, with its values; its run folder is named when it ends.
      if (state.status === 'running') {
        if (!state.run) say(`trial ${state.index} running: ${Object.entries(event.values).map(([k, v]) => `${k}=${short(v)}`).join(' ')}`);
        break;
      }
      const metric = state.metric !== undefined ? ` ${state.metric.toFixed(4)}` : '';
      const reason = state.status !== 'completed' && state.reason ? ` — ${state.reason.split('\n')[0]}` : '';
      const best = event.best ? `; best ${event.best.index}: ${event.best.metric.toFixed(4)}` : '';
      say(`trial ${state.index} ${state.status}${metric}${state.run ? ` ${state.run}` : ''}${reason} [${counts.completed + counts.stopped}/${counts.total} done, ${counts.running} running, ${counts.failed} failed${best}]`);
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
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) return usage(`-j takes a number of trials at once from 1 to 64, got '${String(options['jobs'])}'`, print);
  const json = options['json'] === true;
  const say = (line: string): void => printLine(print.err, line);
  const { worker } = await import('../api/sweep.js');
  const result = await whileRunning((signal) => worker({
    queue: String(options['queue']), jobs, signal, ...backendAndRuns(options),
    onEvent: (event: WorkerEvent) => {
      if (json && event.type !== 'trial-event') printLine(print.out, JSON.stringify(event));
      if (json) return;
      if (event.type === 'log') say(event.message);
      if (event.type === 'trial-state') say(`trial ${event.state.index} ${event.state.status}${event.state.run ? ` (${event.state.run})` : ''}${event.state.metric !== undefined ? ` ${event.state.metric.toFixed(4)}` : ''}${event.state.reason && event.state.status !== 'running' ? ` — ${event.state.reason.split('\n')[0]}` : ''}`);
    },
  }), () => say('stopping: running trials end at their next batch and go back to the queue (again to quit at once)'));
  if (!result.ok) {
    for (const d of result.diagnostics) say(formatDiagnostic(d));
    return EXIT.failed;
  }
  say(`worker stopped after ${result.value.processed} trial(s)`);
  return EXIT.ok;
}
