import { formatDiagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';

/** 0 success; 1 an invalid pipeline or a failed run; 2 a usage error; 130 interrupted (128 + SIGINT). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Where a command writes: results to `out`, everything for people to `err` (with --json, `out` carries JSON only). */
export interface Printer {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processPrinter: Printer = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

export function printLine(write: (text: string) => void, text: string): void {
  write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printDiagnostics(diagnostics: readonly Diagnostic[], print: Printer): void {
  for (const d of diagnostics) printLine(print.err, formatDiagnostic(d));
}
