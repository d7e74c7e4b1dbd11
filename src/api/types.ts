import type { Diagnostic } from '../diagnostics/diagnostic.js';
import type { Override } from '../format/overrides.js';
import type { BackendName, PipelineFile } from '../format/types.js';

/**
 * What every API function returns, as esbuild's build() does: the value, the
 * problems that stopped it (`diagnostics`, errors as data, each with its
 * file:line:col where there is one) and the `warnings`. `ok` is false when
 * anything stopped it; `value` may still be there (a run that failed has a
 * run folder to look at).
 */
export type Outcome<T> =
  | { ok: true; value: T; diagnostics: []; warnings: Diagnostic[] }
  | { ok: false; value?: T; diagnostics: Diagnostic[]; warnings: Diagnostic[]; interrupted?: true };

/**
 * A pipeline: the path of its YAML file, its YAML text, or the pipeline as
 * an object. `path` places an in-memory pipeline: its relative paths are
 * read from that folder and its name comes from it (default: pipeline.yaml
 * in the working folder).
 */
export type PipelineInput =
  string | { yaml: string; path?: string } | { pipeline: PipelineFile | Record<string, unknown>; path?: string };

export interface PipelineOptions {
  /**
   * Values set by key path, validated like the file: `{ 'train.stages[0].epochs': 3 }`.
   * A problem with one is reported at the override (its `label`, when given as a list).
   */
  overrides?: Record<string, unknown> | readonly (Omit<Override, 'label'> & { label?: string })[];
  /** Where run folders go and `run:` bases are found; default: ./runs. */
  runsDir?: string;
  /** Overrides the pipeline's `backend`. */
  backend?: BackendName;
}

/** Lets a long call be stopped: a run then ends `interrupted` after its current batch, checkpoints kept. */
export interface Cancellable {
  signal?: AbortSignal;
}

export const ok = <T>(value: T, warnings: Diagnostic[] = []): Outcome<T> => ({
  ok: true,
  value,
  diagnostics: [],
  warnings,
});
export const failed = <T>(diagnostics: Diagnostic[], warnings: Diagnostic[] = [], value?: T): Outcome<T> => ({
  ok: false,
  diagnostics,
  warnings,
  ...(value !== undefined ? { value } : {}),
});

/** Stopped through its AbortSignal before there was anything to show (before a run folder existed). */
export const interruptedEarly = <T>(warnings: Diagnostic[] = []): Outcome<T> => ({
  ok: false,
  diagnostics: [],
  warnings,
  interrupted: true,
});

/** A problem that has no place in a file (a run folder that is not one, say). */
export function problem(file: string, message: string, hint?: string): Diagnostic {
  return { file, path: [], severity: 'error', message, ...(hint ? { hint } : {}) };
}
