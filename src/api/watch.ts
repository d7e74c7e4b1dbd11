import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { RunEvent } from '../engine/events.js';
import { fingerprint } from '../plan/fingerprint.js';
import type { PipelineSpec } from '../format/types.js';
import { watchPipelines, type WatchEvent } from '../watch/watch-pipelines.js';
import { loadInput } from './pipeline-input.js';
import { run, type RunOptions } from './run.js';

export type { WatchEvent } from '../watch/watch-pipelines.js';

export interface WatchOptions extends Omit<RunOptions, 'onEvent' | 'signal' | 'resume'> {
  /** Quiet time after the last change before acting, so an editor's multi-write save runs once (default 300 ms). */
  debounceMs?: number;
  /** The watcher's events and every run's. */
  onEvent?: (
    event:
      | WatchEvent
      | RunEvent
      | { type: 'run-problems'; file: string; diagnostics: import('../diagnostics/diagnostic.js').Diagnostic[] },
  ) => void;
}

/** The local files a pipeline reads besides itself, which a save to should also re-run it. */
function localInputs(spec: PipelineSpec): string[] {
  const { dataset } = spec;
  return [
    ...(spec.base.file && !spec.base.run ? [spec.base.file] : []),
    ...(dataset.format === 'csv' ? [dataset.file] : []),
    ...(dataset.format === 'idx'
      ? [
          dataset.train.images,
          dataset.train.labels,
          ...(dataset.test ? [dataset.test.images, dataset.test.labels] : []),
        ]
      : []),
  ];
}

/**
 * What a local input holds, as a sha256 of its bytes (streamed: an IDX file
 * may be gigabytes), so a touch or an identical rewrite is no change. A path
 * that is not a regular file is never opened (a FIFO would block): the run
 * reports it; here it is only a different state from a file.
 */
async function contentDigest(file: string): Promise<string> {
  try {
    const stats = await stat(file);
    if (!stats.isFile()) return `not a file (mode ${stats.mode})`;
    const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const hash = createHash('sha256');
      for await (const chunk of handle.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
      return hash.digest('hex');
    } finally {
      await handle.close();
    }
  } catch (error) {
    return `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}

/**
 * Runs each pipeline once, then again on every save of it (or of a local
 * file it reads), reusing every stage the stage cache holds. A save that
 * does not validate reports its problems and changes nothing; a valid one
 * that changes what runs stops that pipeline's running run (marked
 * interrupted, checkpoints kept); one that changes nothing a run depends on
 * (the resolved pipeline, the bytes of its local inputs) is left alone.
 * `stop()` ends watching once the current run has wound down.
 */
export function watch(
  files: readonly string[],
  options: WatchOptions = {},
): { stop(): Promise<void>; done: Promise<void> } {
  const onEvent = options.onEvent ?? (() => undefined);
  return watchPipelines(
    [...files],
    {
      validate: async (file) => {
        const loaded = loadInput(file, options);
        if (!loaded.ok) return { ok: false, diagnostics: loaded.diagnostics };
        const inputs = localInputs(loaded.value.spec);
        const digests = await Promise.all(inputs.map(contentDigest));
        return {
          ok: true,
          inputs,
          fingerprint: fingerprint({ spec: loaded.value.spec, inputs: inputs.map((file, i) => [file, digests[i]]) }),
        };
      },
      run: async (file, signal) => {
        const result = await run(file, { ...options, signal, onEvent });
        if (result.diagnostics.length > 0) onEvent({ type: 'run-problems', file, diagnostics: result.diagnostics });
        return result.ok;
      },
      onEvent,
    },
    { debounceMs: options.debounceMs ?? 300 },
  );
}
