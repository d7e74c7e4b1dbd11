import type { RunEvent } from '../engine/events.js';
import type { PipelineSpec } from '../format/types.js';
import { watchPipelines, type WatchEvent } from '../watch/watch-pipelines.js';
import { loadInput } from './pipeline-input.js';
import { run, type RunOptions } from './run.js';

export type { WatchEvent } from '../watch/watch-pipelines.js';

export interface WatchOptions extends Omit<RunOptions, 'onEvent' | 'signal' | 'resume'> {
  /** Quiet time after the last change before acting, so an editor's multi-write save runs once (default 300 ms). */
  debounceMs?: number;
  /** The watcher's events and every run's. */
  onEvent?: (event: WatchEvent | RunEvent | { type: 'run-problems'; file: string; diagnostics: import('../diagnostics/diagnostic.js').Diagnostic[] }) => void;
}

/** The local files a pipeline reads besides itself, which a save to should also re-run it. */
function localInputs(spec: PipelineSpec): string[] {
  const { dataset } = spec;
  return [
    ...(spec.base.file && !spec.base.run ? [spec.base.file] : []),
    ...(dataset.format === 'csv' ? [dataset.file] : []),
    ...(dataset.format === 'idx' ? [dataset.train.images, dataset.train.labels, ...(dataset.test ? [dataset.test.images, dataset.test.labels] : [])] : []),
  ];
}

/**
 * Runs each pipeline once, then again on every save of it (or of a local
 * file it reads), reusing every stage the stage cache holds. A save that
 * does not validate reports its problems and changes nothing; a valid one
 * stops that pipeline's running run (marked interrupted, checkpoints kept).
 * `stop()` ends watching once the current run has wound down.
 */
export function watch(files: readonly string[], options: WatchOptions = {}): { stop(): Promise<void>; done: Promise<void> } {
  const onEvent = options.onEvent ?? (() => undefined);
  return watchPipelines([...files], {
    validate: (file) => {
      const loaded = loadInput(file, options);
      return loaded.ok ? { ok: true, inputs: localInputs(loaded.value.spec) } : { ok: false, diagnostics: loaded.diagnostics };
    },
    run: async (file, signal) => {
      const result = await run(file, { ...options, signal, onEvent });
      if (result.diagnostics.length > 0) onEvent({ type: 'run-problems', file, diagnostics: result.diagnostics });
    },
    onEvent,
  }, { debounceMs: options.debounceMs ?? 300 });
}
