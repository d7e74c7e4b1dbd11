import { formatDiagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import { terminalLines } from './terminal-text.js';

/** 0 success; 1 an invalid pipeline or a failed run; 2 a usage error; 130 interrupted (128 + SIGINT). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Where a command writes: results to `out`, everything for people to `err` (with --json, `out` carries JSON only). */
export interface Printer {
  out: (text: string) => void;
  err: (text: string) => void;
}

/**
 * The process's streams whose reader has gone (EPIPE: `tlpipe run … | head`, a closed terminal pipe).
 * What is written to them from then on is dropped and the command goes on: a run finishes and
 * records how it ended in its folder, instead of dying mid-epoch with its run.json saying running.
 */
const readerGone = new Set<NodeJS.WriteStream>();

/** Installed by the bin with its signal handlers: an EPIPE on stdout or stderr closes that stream for tlpipe, not the process. */
export function outliveClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      readerGone.add(stream);
    });
}

const writeTo = (stream: NodeJS.WriteStream, text: string): void => {
  if (!readerGone.has(stream)) stream.write(text);
};

export const processPrinter: Printer = {
  out: (text) => writeTo(process.stdout, text),
  err: (text) => writeTo(process.stderr, text),
};

/** Calls `done` once everything written to stdout and stderr is out (at once for a stream whose reader is gone). */
export function afterOutput(done: () => void): void {
  const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
    readerGone.has(stream) || stream.destroyed
      ? Promise.resolve()
      : new Promise((resolve) => stream.write('', () => resolve()));
  void flushed(process.stdout)
    .then(() => flushed(process.stderr))
    .then(done);
}

export function printLine(write: (text: string) => void, text: string): void {
  write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printDiagnostics(diagnostics: readonly Diagnostic[], print: Printer): void {
  // A message may quote a class or file name: its control characters are shown escaped.
  for (const d of diagnostics) printLine(print.err, terminalLines(formatDiagnostic(d)));
}

/**
 * Ctrl-C, SIGTERM and SIGHUP (a closed terminal), from the moment the CLI
 * starts. While a run works (`whileRunning`), the first one aborts it — it
 * stops at its next batch, marked interrupted — and a second quits at once;
 * at any other time the CLI quits at once with 130, having written nothing.
 */
const interruption = {
  controller: undefined as AbortController | undefined,
  stops: 0,
  onStop: undefined as ((signal: NodeJS.Signals) => void) | undefined,
  finished: false,
};

/** The command's work is done and its outcome printed: a signal from now on changes nothing, and the CLI exits with the command's code. */
export function commandFinished(): void {
  interruption.finished = true;
}

export function handleSignals(print: Printer): void {
  const stop = (signal: NodeJS.Signals): void => {
    if (interruption.finished) return;
    if (!interruption.controller) {
      // Still starting up (loading the library, reading the pipeline): nothing has been written yet.
      printLine(print.err, `\n${signal}: interrupted before it started: nothing was written`);
      process.exit(EXIT.interrupted);
    }
    if (++interruption.stops > 1) process.exit(EXIT.interrupted);
    if (interruption.onStop) interruption.onStop(signal);
    else printLine(print.err, `\n${signal}: stopping after the current batch (again to quit at once)`);
    interruption.controller.abort();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
}

/** The signal that stops the run `work` starts; `onStop` says what stopping means (watch says it its own way). */
export async function whileRunning<T>(
  work: (signal: AbortSignal) => Promise<T>,
  onStop?: (signal: NodeJS.Signals) => void,
): Promise<T> {
  interruption.controller = new AbortController();
  interruption.stops = 0;
  interruption.onStop = onStop;
  try {
    return await work(interruption.controller.signal);
  } finally {
    interruption.controller = undefined;
    interruption.onStop = undefined;
  }
}
