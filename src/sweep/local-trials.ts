import type { RunEvent } from '../engine/events.js';
import type { TrialState } from '../store/sweep-folder.js';
import { runTrial } from './run-trial.js';
import type { TrialJob } from './trial-messages.js';

/** A trial whose process dies this many times is failed: a crash is retried (resuming its run), a loop of crashes is not. */
export const MAX_TRIAL_ATTEMPTS = 3;

/**
 * `tlpipe sweep -j N`: the trials as up to N child processes at once on
 * this machine, in trial order. A crashed trial is started again at once,
 * resuming its run from its checkpoint. The signal stops the running
 * trials (interrupted, checkpoints kept) and starts no more.
 */
export async function runTrialsLocally(
  jobs: readonly TrialJob[],
  runsRoot: string,
  options: {
    jobs: number;
    child: string;
    signal?: AbortSignal;
    onState?: (state: TrialState) => void;
    onEvent?: (index: number, event: RunEvent) => void;
  },
): Promise<void> {
  const waiting = [...jobs];
  const lane = async (): Promise<void> => {
    for (let job = waiting.shift(); job && !options.signal?.aborted; job = waiting.shift()) {
      for (;;) {
        const { state, crashed } = await runTrial(job, runsRoot, { ...options, maxAttempts: MAX_TRIAL_ATTEMPTS });
        if (!crashed || state.status === 'failed' || options.signal?.aborted) break;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, waiting.length)) }, lane));
}
