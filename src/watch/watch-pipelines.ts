import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

import type { Diagnostic } from '../diagnostics/diagnostic.js';

/** What the watcher reports, besides the runs' own events. */
export type WatchEvent =
  | { type: 'watch-invalid'; file: string; diagnostics: Diagnostic[]; running: boolean }
  | { type: 'watch-changed'; file: string }
  /** A save that changes nothing the run depends on (an editor's `:w`, a formatter, a touch): nothing restarts. */
  | { type: 'watch-unchanged'; file: string; run: 'running' | 'queued' | 'completed' }
  | { type: 'watch-run-finished'; file: string; seconds: number }
  | { type: 'watch-idle'; files: string[] }
  | { type: 'watch-error'; file: string; message: string; stack?: string };

/** What the watcher needs from the rest of tlpipe; the API supplies it, so imports keep one direction. */
export interface WatchHooks {
  /**
   * Validates a pipeline file; on success, the local files it reads (a base
   * model.json, IDX or CSV files) and a fingerprint of everything a run of
   * it depends on (the pipeline as resolved, the inputs' bytes), so a save
   * that changes none of it is told from one that does.
   */
  validate(
    file: string,
  ): Promise<{ ok: true; inputs: string[]; fingerprint: string } | { ok: false; diagnostics: Diagnostic[] }>;
  /** Runs a pipeline to its end, or until `signal` aborts it (the run is then marked interrupted); true when it completed. */
  run(file: string, signal: AbortSignal): Promise<boolean>;
  onEvent(event: WatchEvent): void;
}

export interface WatchOptions {
  /** Quiet time after the last change before acting, so an editor's multi-write save runs once. */
  debounceMs: number;
}

/**
 * `tlpipe watch`: runs each pipeline once, then again whenever it (or a
 * local file it reads) is saved. A save that does not validate prints its
 * errors and changes nothing; a valid one that changes what runs cancels
 * that pipeline's running run (which ends `interrupted`, its checkpoints
 * intact) and queues a new run, which reuses every stage the stage cache
 * holds. A save that changes nothing a run depends on (the same bytes, a
 * touch, a reformat) neither restarts the running run nor repeats a
 * completed one; after a failed run, it runs again. One run at a time:
 * tfjs trains on this thread. Resolves when `stop` is called and the
 * current run has wound down.
 */
export function watchPipelines(
  files: string[],
  hooks: WatchHooks,
  options: WatchOptions,
): { stop(): Promise<void>; done: Promise<void> } {
  const pipelines = files.map((f) => path.resolve(f));
  const queue: string[] = [];
  let current: { file: string; controller: AbortController; finished: Promise<void> } | undefined;
  let stopping = false;
  const timers = new Map<string, NodeJS.Timeout>();
  // Per pipeline: the fingerprint of the run queued, running, or last completed; a save that matches it starts nothing.
  const settled = new Map<string, string>();
  // Per pipeline: the check under way, so checks of one file run in the order of its saves.
  const checking = new Map<string, Promise<void>>();
  // Which pipelines each watched path belongs to (a base model may serve several).
  const owners = new Map<string, Set<string>>();
  // Declared before the closures that read it, which may run before the watcher exists (a const would throw there).
  // eslint-disable-next-line prefer-const
  let watcher: FSWatcher | undefined;

  const enqueue = (file: string): void => {
    if (!queue.includes(file)) queue.push(file);
    if (current?.file === file) {
      hooks.onEvent({ type: 'watch-changed', file });
      current.controller.abort();
    }
    void pump();
  };

  const checkNow = async (file: string): Promise<void> => {
    const result = await hooks.validate(file);
    if (stopping) return;
    if (!result.ok) {
      hooks.onEvent({ type: 'watch-invalid', file, diagnostics: result.diagnostics, running: current !== undefined });
      return;
    }
    follow(file, result.inputs);
    if (settled.get(file) === result.fingerprint) {
      hooks.onEvent({
        type: 'watch-unchanged',
        file,
        run: current?.file === file ? 'running' : queue.includes(file) ? 'queued' : 'completed',
      });
      return;
    }
    settled.set(file, result.fingerprint);
    enqueue(file);
  };

  const check = (file: string): void => {
    const previous = checking.get(file) ?? Promise.resolve();
    const next = previous
      .then(() => checkNow(file))
      .catch((error: unknown) =>
        hooks.onEvent({
          type: 'watch-error',
          file,
          message: (error as Error).message ?? String(error),
          ...((error as Error).stack ? { stack: (error as Error).stack } : {}),
        }),
      );
    checking.set(file, next);
    void next.finally(() => {
      if (checking.get(file) === next) checking.delete(file);
    });
  };

  const follow = (file: string, inputs: string[]): void => {
    for (const input of [file, ...inputs].map((p) => path.resolve(p))) {
      const set = owners.get(input) ?? new Set<string>();
      if (!owners.has(input)) {
        owners.set(input, set);
        watcher?.add(input);
      }
      set.add(file);
    }
  };

  const changed = (changedPath: string): void => {
    for (const file of owners.get(path.resolve(changedPath)) ?? []) {
      clearTimeout(timers.get(file));
      timers.set(
        file,
        setTimeout(() => {
          timers.delete(file);
          if (!stopping) check(file);
        }, options.debounceMs),
      );
    }
  };

  let pumping = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      while (!stopping) {
        if (current) await current.finished;
        const next = queue.shift();
        if (!next || stopping) break;
        const controller = new AbortController();
        const started = performance.now();
        const fingerprint = settled.get(next);
        const finished = hooks.run(next, controller.signal).then(
          (completed) => {
            // A run that did not complete is not what a save of the same pipeline should leave alone: the next save retries it.
            if (!completed && settled.get(next) === fingerprint) settled.delete(next);
          },
          (error: unknown) => {
            if (settled.get(next) === fingerprint) settled.delete(next);
            hooks.onEvent({
              type: 'watch-error',
              file: next,
              message: (error as Error).message ?? String(error),
              ...((error as Error).stack ? { stack: (error as Error).stack } : {}),
            });
          },
        );
        current = { file: next, controller, finished };
        await finished;
        current = undefined;
        hooks.onEvent({ type: 'watch-run-finished', file: next, seconds: (performance.now() - started) / 1000 });
        if (queue.length === 0) hooks.onEvent({ type: 'watch-idle', files: pipelines });
      }
    } finally {
      pumping = false;
    }
  };

  watcher = watch([], { ignoreInitial: true, atomic: true });
  watcher.on('change', changed).on('add', changed);
  for (const file of pipelines) {
    owners.set(file, new Set([file]));
    watcher.add(file);
    check(file);
  }

  const stop = async (): Promise<void> => {
    stopping = true;
    for (const timer of timers.values()) clearTimeout(timer);
    current?.controller.abort();
    await current?.finished;
    await watcher?.close();
    resolveDone();
  };
  return { stop, done };
}
