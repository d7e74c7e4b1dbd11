import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

import type { Diagnostic } from '../diagnostics/diagnostic.js';

/** What the watcher reports, besides the runs' own events. */
export type WatchEvent =
  | { type: 'watch-invalid'; file: string; diagnostics: Diagnostic[]; running: boolean }
  | { type: 'watch-changed'; file: string }
  | { type: 'watch-run-finished'; file: string; seconds: number }
  | { type: 'watch-idle'; files: string[] }
  | { type: 'watch-error'; file: string; message: string; stack?: string };

/** What the watcher needs from the rest of tlpipe; the API supplies it, so imports keep one direction. */
export interface WatchHooks {
  /** Validates a pipeline file; on success, the local files it reads (a base model.json, IDX or CSV files). */
  validate(file: string): { ok: true; inputs: string[] } | { ok: false; diagnostics: Diagnostic[] };
  /** Runs a pipeline to its end, or until `signal` aborts it (the run is then marked interrupted). */
  run(file: string, signal: AbortSignal): Promise<void>;
  onEvent(event: WatchEvent): void;
}

export interface WatchOptions {
  /** Quiet time after the last change before acting, so an editor's multi-write save runs once. */
  debounceMs: number;
}

/**
 * `tlpipe watch`: runs each pipeline once, then again whenever it (or a
 * local file it reads) is saved. A save that does not validate prints its
 * errors and changes nothing; a valid one cancels that pipeline's running
 * run (which ends `interrupted`, its checkpoints intact) and queues a new
 * run, which reuses every stage the stage cache holds. One run at a time:
 * tfjs trains on this thread. Resolves when `stop` is called and the
 * current run has wound down.
 */
export function watchPipelines(files: string[], hooks: WatchHooks, options: WatchOptions): { stop(): Promise<void>; done: Promise<void> } {
  const pipelines = files.map((f) => path.resolve(f));
  const queue: string[] = [];
  let current: { file: string; controller: AbortController; finished: Promise<void> } | undefined;
  let stopping = false;
  const timers = new Map<string, NodeJS.Timeout>();
  // Which pipelines each watched path belongs to (a base model may serve several).
  const owners = new Map<string, Set<string>>();
  let watcher: FSWatcher | undefined;

  const enqueue = (file: string): void => {
    if (!queue.includes(file)) queue.push(file);
    if (current?.file === file) {
      hooks.onEvent({ type: 'watch-changed', file });
      current.controller.abort();
    }
    void pump();
  };

  const check = (file: string): void => {
    const result = hooks.validate(file);
    if (!result.ok) {
      hooks.onEvent({ type: 'watch-invalid', file, diagnostics: result.diagnostics, running: current !== undefined });
      return;
    }
    follow(file, result.inputs);
    enqueue(file);
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
      timers.set(file, setTimeout(() => {
        timers.delete(file);
        if (!stopping) check(file);
      }, options.debounceMs));
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
        const finished = hooks.run(next, controller.signal).catch((error: unknown) =>
          hooks.onEvent({ type: 'watch-error', file: next, message: (error as Error).message ?? String(error), ...((error as Error).stack ? { stack: (error as Error).stack } : {}) }));
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
