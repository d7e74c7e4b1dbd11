import type { KfoldEvent, KfoldInfo, KfoldPlan } from '../api/cross-validate.js';
import type { Outcome } from '../api/types.js';
import { meanPlusMinus } from '../api/fold-test-metrics.js';
import { shown } from '../progress/event-lines.js';
import { failure, setOption, usage } from './commands.js';
import { EXIT, printDiagnostics, printLine, whileRunning, type Printer } from './output.js';
import { fittedLines } from './sweep-commands.js';
import { fitColumns } from './text-table.js';

/** `--folds k` as the override it is (`evaluate.folds`), or a usage problem; none without the flag. */
export function foldsOption(
  options: Record<string, unknown>,
): { path: string; value: number; label: string }[] | { message: string } {
  const raw = options['folds'];
  if (raw === undefined) return [];
  const k = Number(raw);
  if (!Number.isInteger(k) || k < 2 || k > 20)
    return { message: `--folds takes a number of folds from 2 to 20, got '${String(raw)}'` };
  return [{ path: 'evaluate.folds', value: k, label: `--folds ${String(raw)}` }];
}

/** The overrides of --set then --folds, or the usage problem of either: what `tlpipe run` and `tlpipe plan` apply to the pipeline. */
export async function setAndFoldsOverrides(
  options: Record<string, unknown>,
): Promise<{ path: string; value: unknown; label: string }[] | { message: string }> {
  const set = await setOption(options);
  if (!Array.isArray(set)) return set;
  const folds = foldsOption(options);
  if (!Array.isArray(folds)) return folds;
  return [...set, ...folds];
}

/** -j runs folds at once; a single run has nothing to run beside it, so -j there is a mistake to say, not to ignore. */
export const JOBS_WITHOUT_FOLDS =
  "-j runs the folds of a k-fold cross-validation at once, and this run has none: add --folds k (or evaluate.folds), or for a sweep's trials at once use 'tlpipe sweep -j'";

/** `-j N` for the folds at once, or a usage problem. */
export function jobsOption(options: Record<string, unknown>): number | { message: string } {
  const jobs = Number(options['jobs'] ?? 1);
  return Number.isInteger(jobs) && jobs >= 1 && jobs <= 64
    ? jobs
    : { message: `-j takes a number of folds at once from 1 to 64, got '${String(options['jobs'])}'` };
}

/** `tlpipe plan` on a k-fold pipeline: the folds, their sizes, and what they compute once and share. */
export function formatKfoldPlan(plan: KfoldPlan): string {
  const lines = [
    `k-fold cross-validation: ${plan.k} folds of train+validation (stratified, seed ${plan.seed}); the test split (${plan.assignment.test} examples) is evaluated by every fold`,
    '',
    ...fitColumns([
      ['fold', 'train', 'validation', 'test', 'plan', 'epochs'],
      ...plan.folds.map((f) => [
        String(f.fold),
        String(f.counts.train),
        String(f.counts.validation),
        String(f.counts.test),
        f.fingerprint.slice(0, 8),
        String(f.epochs),
      ]),
    ]),
    '',
    'computed once per distinct fingerprint, then shared through the stage cache:',
    ...plan.work.map((w) => `  ${w.task}: ${w.distinct} for ${w.folds} fold(s)`),
    '',
    'no model is trained on all of train+validation: each fold exports its own',
  ];
  return lines.flatMap((l) => (l === '' ? [''] : fittedLines(l))).join('\n');
}

/** One line for people per fold state change, and the run's end. */
function describeEvent(event: KfoldEvent): string | undefined {
  switch (event.type) {
    case 'kfold-start':
      return `${event.resumed ? 'resuming' : 'starting'} ${event.k}-fold cross-validation ${shown(event.dir)}: ${event.toRun} fold(s) to run`;
    case 'fold':
      return `fold ${event.fold}: ${event.state.status}${event.state.run ? ` (${event.state.run})` : ''}${event.state.reason && event.state.status !== 'completed' ? ` — ${event.state.reason}` : ''}`;
    case 'fold-event':
      return undefined;
    case 'kfold-end':
      return undefined;
  }
}

/** Runs the k-fold cross-validation of a pipeline and prints how it ended; the exit code. */
export async function kfoldCommand(
  file: string,
  args: {
    overrides: { path: string; value: unknown; label: string }[];
    options: Record<string, unknown>;
    common: { backend?: import('../api/index.js').BackendName; runsDir?: string; noCache?: boolean; resume?: boolean };
  },
  print: Printer,
): Promise<number> {
  const jobs = jobsOption(args.options);
  if (typeof jobs !== 'number') return usage(jobs.message, print);
  const json = args.options['json'] === true;
  const quiet = args.options['quiet'] === true;
  const { crossValidate } = await import('../api/cross-validate.js');
  const result: Outcome<KfoldInfo> = await whileRunning((signal) =>
    crossValidate(file, {
      overrides: args.overrides,
      jobs,
      signal,
      ...args.common,
      onEvent: (event) => {
        if (json) {
          if (event.type !== 'fold-event') printLine(print.out, JSON.stringify(event));
          return;
        }
        const line = quiet ? undefined : describeEvent(event);
        if (line) for (const l of fittedLines(line)) printLine(print.err, l);
      },
    }),
  );
  printDiagnostics(result.warnings, print);
  if (!result.value) return failure(result.diagnostics, print, json, args.options);
  const { summary, paths } = result.value;
  if (!result.ok) printDiagnostics(result.diagnostics, print);
  const headline = Object.entries(summary.metrics)
    .filter(([name]) => ['val_accuracy', 'val_loss', 'test_accuracy', 'test_loss'].includes(name))
    .map(([name, m]) => `  ${name} ${meanPlusMinus(m)}`);
  const text = [
    `${summary.k}-fold cross-validation ${summary.status}: ${shown(result.value.dir)}`,
    ...headline,
    `  summary: ${shown(paths.summary)}`,
    `  report:  ${shown(paths.report)}`,
    ...(summary.status === 'completed'
      ? []
      : [
          `  continue it with: tlpipe run ${file}${args.options['folds'] !== undefined ? ` --folds ${String(args.options['folds'])}` : ''} --resume`,
        ]),
  ].join('\n');
  printLine(summary.status === 'completed' && !json ? print.out : print.err, text);
  return summary.status === 'completed' ? EXIT.ok : summary.status === 'interrupted' ? EXIT.interrupted : EXIT.failed;
}
