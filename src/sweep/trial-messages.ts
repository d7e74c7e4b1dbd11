import type { RunEvent } from '../engine/events.js';

/**
 * A trial as a job: everything a process needs to run it, on this machine
 * or a worker elsewhere. `sweep` is the sweep folder relative to the runs
 * folder, which every worker mounts (its own `--runs`).
 */
export interface TrialJob {
  sweep: string;
  index: number;
  /** The pipeline file (relative paths in it are read from its folder) and its text when the sweep started. */
  file: string;
  text: string;
  overrides: { path: string; value: unknown }[];
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  noCache?: boolean;
}

/** From the scheduling process to the trial's process. */
export type ParentMessage =
  | { type: 'start'; job: TrialJob; runsRoot: string }
  /** Stop the run after its current batch (it ends interrupted, checkpoints kept); `reason` goes into run.json. */
  | { type: 'stop'; reason: string };

/** From the trial's process: its run's events, then how it ended. */
export type ChildMessage =
  | { type: 'event'; event: RunEvent }
  | {
      type: 'result';
      /** crashed: an internal error, retried like a process that died. */
      status: 'completed' | 'failed' | 'interrupted' | 'crashed';
      run?: string;
      dir?: string;
      /** The problems, formatted (file:line:col: …). */
      diagnostics: string[];
      reason?: string;
    };
