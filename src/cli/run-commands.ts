import path from 'node:path';
import type { RunEndEvent, RunEvent, RunResult } from '../api/index.js';
import { formatDiagnostic } from '../diagnostics/diagnostic.js';
import { shown } from '../progress/event-lines.js';
import { fitText } from '../progress/text-width.js';
import {
  jsonRenderer,
  plainRenderer,
  quietRenderer,
  ttyRenderer,
  type ProgressRenderer,
} from '../progress/renderers.js';
import { atFlags, backendAndRuns, failure, setOption, usage, type CommandArgs } from './commands.js';
import { EXIT, printDiagnostics, printLine, whileRunning, type Printer } from './output.js';

type Mode = 'tty' | 'plain' | 'json' | 'quiet';

function modeOf(options: Record<string, unknown>): Mode {
  return options['json'] ? 'json' : options['quiet'] ? 'quiet' : process.stderr.isTTY ? 'tty' : 'plain';
}

/** Progress for people on stderr; with --json, JSON lines on stdout and nothing else there. */
function rendererFor(mode: Mode, print: Printer): ProgressRenderer {
  const err = (line: string): void => printLine(print.err, line);
  switch (mode) {
    case 'json':
      return jsonRenderer((line) => printLine(print.out, line));
    case 'quiet':
      return quietRenderer();
    case 'tty':
      return ttyRenderer(err);
    case 'plain':
      return plainRenderer(err);
  }
}

/** How a run ended, for people: where it is, the test metrics, or how to continue it. */
export function describeRunEnd(
  end: Pick<RunEndEvent, 'status' | 'dir' | 'seconds' | 'backend' | 'test' | 'error'>,
): string {
  const where = shown(end.dir);
  if (end.status !== 'completed')
    return fitText(
      `run ${end.status}: ${where}${end.error ? ` — ${end.error.message}` : ''}\n  continue it with: tlpipe resume ${where}`,
    );
  // The loss has a line of its own, so the first line fits 80 columns with a usual runs path.
  const test = !end.test
    ? 'no test split'
    : end.test.auroc !== undefined
      ? `test AUROC ${end.test.auroc.toFixed(4)}`
      : end.test.meanIoU !== undefined
        ? `test mean IoU ${end.test.meanIoU.toFixed(4)}`
        : `test accuracy ${end.test.accuracy.toFixed(4)}`;
  const second =
    end.test?.auroc !== undefined
      ? `\n  test accuracy at the threshold ${end.test.accuracy.toFixed(4)}`
      : end.test?.meanIoU !== undefined
        ? `\n  test pixel accuracy ${end.test.accuracy.toFixed(4)}${end.test.loss !== undefined ? `, loss ${end.test.loss.toFixed(4)}` : ''}`
        : end.test?.loss !== undefined
          ? `\n  test loss ${end.test.loss.toFixed(4)}`
          : '';
  return fitText(
    `completed ${where} in ${end.seconds.toFixed(1)}s on ${end.backend}: ${test}${second}\n  report: ${path.join(where, 'report.html')}\n  model:  ${path.join(where, 'model')}/`,
  );
}

/** Prints how a run ended and returns the exit code. */
async function reportRun(
  result: RunResult,
  mode: Mode,
  print: Printer,
  options: Record<string, unknown>,
): Promise<number> {
  if (!result.ok && result.interrupted && !result.value) {
    printLine(print.err, 'interrupted before the run started: nothing was written');
    if (mode === 'json') printLine(print.out, JSON.stringify({ type: 'interrupted', before: 'run-start' }));
    return EXIT.interrupted;
  }
  if (!result.value) return failure(result.diagnostics, print, mode === 'json', options);
  printDiagnostics(atFlags(result.diagnostics, options), print);
  const { status, dir, record, summary } = result.value;
  // Here, not at the top: it loads the store (and ajv), which a run refused before it starts never needs.
  const { testHeadline } = await import('../api/test-headline.js');
  const line = describeRunEnd({
    status,
    dir,
    seconds: record.seconds ?? 0,
    backend: record.backend ?? '–',
    ...(summary?.test ? { test: testHeadline(summary.test) } : {}),
    ...(record.error ? { error: record.error } : {}),
  });
  // Results go to stdout, except with --json, where stdout is for JSON lines only.
  printLine(status === 'completed' && mode !== 'json' ? print.out : print.err, line);
  return status === 'completed' ? EXIT.ok : status === 'interrupted' ? EXIT.interrupted : EXIT.failed;
}

async function runWith(
  print: Printer,
  options: Record<string, unknown>,
  start: (onEvent: (event: RunEvent) => void, signal: AbortSignal) => Promise<RunResult>,
): Promise<number> {
  const mode = modeOf(options);
  const renderer = rendererFor(mode, print);
  let result: RunResult;
  try {
    result = await whileRunning((signal) => start(renderer.listener, signal));
  } catch (error) {
    await renderer.close(error as Error);
    throw error;
  }
  await renderer.close();
  return reportRun(result, mode, print, options);
}

export async function runCommand({ positional: [file], options }: CommandArgs, print: Printer): Promise<number> {
  const { JOBS_WITHOUT_FOLDS, kfoldCommand, setAndFoldsOverrides } = await import('./kfold-commands.js');
  const overrides = await setAndFoldsOverrides(options);
  if (!Array.isArray(overrides)) return usage(overrides.message, print);
  // The light module: a plain run must not load the engine before its pipeline is validated.
  const { foldsOf } = await import('../api/pipeline-input.js');
  // evaluate.folds (or --folds) without evaluate.fold: the folds run as runs of their own, recorded in runs/<name>/kfold/.
  if (foldsOf(file!, { overrides }) !== undefined)
    return kfoldCommand(
      file!,
      {
        overrides,
        options,
        common: {
          ...backendAndRuns(options),
          ...(options['resume'] ? { resume: true } : {}),
          ...(options['cache'] === false ? { noCache: true } : {}),
        },
      },
      print,
    );
  if (options['jobs'] !== undefined) return usage(JOBS_WITHOUT_FOLDS, print);
  const { run } = await import('../api/run.js');
  return runWith(print, options, (onEvent, signal) =>
    run(file!, {
      overrides,
      onEvent,
      signal,
      ...backendAndRuns(options),
      ...(options['resume'] ? { resume: true } : {}),
      ...(options['cache'] === false ? { noCache: true } : {}),
    }),
  );
}

export async function resumeCommand({ positional: [ref], options }: CommandArgs, print: Printer): Promise<number> {
  const { resume } = await import('../api/run.js');
  return runWith(print, options, (onEvent, signal) =>
    resume(ref!, {
      onEvent,
      signal,
      ...backendAndRuns(options),
      ...(options['cache'] === false ? { noCache: true } : {}),
    }),
  );
}

export async function watchCommand({ positional: files, options }: CommandArgs, print: Printer): Promise<number> {
  const debounceMs = Number(options['debounce'] ?? 300);
  if (!Number.isFinite(debounceMs) || debounceMs < 0)
    return usage(`--debounce must be milliseconds, got '${String(options['debounce'])}'`, print);
  const overrides = await setOption(options);
  if (!Array.isArray(overrides)) return usage(overrides.message, print);
  const { watch } = await import('../api/watch.js');
  const json = options['json'] === true;
  // One run after another, each drawn as plain lines (a live display would fight the watcher's own lines).
  const renderer = json
    ? jsonRenderer((line) => printLine(print.out, line))
    : options['quiet']
      ? quietRenderer()
      : plainRenderer((line) => printLine(print.err, line));
  const say = (line: string): void => printLine(print.err, fitText(line));
  return whileRunning(
    async (signal) => {
      const watcher = watch(files, {
        overrides,
        debounceMs,
        ...backendAndRuns(options),
        ...(options['cache'] === false ? { noCache: true } : {}),
        onEvent: (event) => {
          switch (event.type) {
            case 'watch-invalid':
              for (const d of event.diagnostics) say(formatDiagnostic(d));
              say(
                `${shown(event.file)} is not valid; waiting for the next save${event.running ? ' (the running run goes on)' : ''}`,
              );
              if (json)
                printLine(
                  print.out,
                  JSON.stringify({ type: 'invalid', file: event.file, diagnostics: event.diagnostics }),
                );
              break;
            case 'watch-changed':
              say(`${shown(event.file)} changed: stopping its run to start again`);
              break;
            case 'watch-unchanged':
              say(
                `${shown(event.file)} saved with nothing changed that a run depends on: ${{ running: 'the running run goes on', queued: 'its queued run stands', completed: 'its last run completed as it is' }[event.run]}`,
              );
              break;
            case 'watch-run-finished':
              say(`${shown(event.file)}: ${event.seconds.toFixed(1)}s from start to end, planning included`);
              break;
            case 'watch-idle':
              say(`watching ${event.files.map(shown).join(', ')} — save to run again, Ctrl-C to stop`);
              break;
            case 'watch-error':
              say(`internal error in ${shown(event.file)} (a bug; please report it): ${event.stack ?? event.message}`);
              break;
            case 'run-problems': {
              const diagnostics = atFlags(event.diagnostics, options);
              for (const d of diagnostics) say(formatDiagnostic(d));
              if (json) printLine(print.out, JSON.stringify({ type: 'invalid', file: event.file, diagnostics }));
              break;
            }
            case 'run-end':
              renderer.listener(event);
              if (!json) printLine(event.status === 'completed' ? print.out : print.err, describeRunEnd(event));
              break;
            default:
              renderer.listener(event);
          }
        },
      });
      signal.addEventListener('abort', () => void watcher.stop());
      await watcher.done;
      return EXIT.ok;
    },
    () => say('stopping: the running run ends at its next batch, marked interrupted (again to quit at once)'),
  );
}
