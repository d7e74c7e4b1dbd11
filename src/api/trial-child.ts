/**
 * The program a sweep trial runs in: a process of its own, forked by
 * sweep/run-trial.ts with an IPC channel (never imported: it takes the
 * process's messages and SIGTERM). Training never runs in the event loop
 * of the process that schedules trials (a BullMQ worker's job locks would
 * stall). It runs the trial with the library's `run`, resuming the trial's
 * unfinished run folder when there is one, and sends back the events and
 * the outcome. Before anything is written it checks that it planned the
 * plan its sweep planned for the trial: the data or the base may have
 * changed since, or this process may plan differently (another machine's
 * worker, another tlpipe, other TLPIPE_* settings), and a trial that ran
 * another plan would be recorded under the sweep's. When the channel closes
 * (its parent died), the run is stopped as by Ctrl-C: it ends `interrupted`
 * with its checkpoints, to be resumed.
 *
 * It lives in the API, beside `run` which it calls, and api/sweep.ts gives
 * its path to the sweep layer that starts it: no layer refers to one above it.
 */
import { formatDiagnostic } from '../diagnostics/diagnostic.js';
import { planDifference, planDigest } from '../plan/plan-digest.js';
import type { Plan } from '../plan/types.js';
import type { ChildMessage, ParentMessage, TrialJob } from '../sweep/trial-messages.js';
import { run } from './run.js';
import { problem } from './types.js';

const controller = new AbortController();
const send = (message: ChildMessage): void => {
  if (process.connected) process.send!(message);
};

process.on('disconnect', () => controller.abort('the process running the sweep trial went away'));
process.on('message', (message: ParentMessage) => {
  if (message.type === 'stop') controller.abort(message.reason);
  if (message.type === 'start') void start(message);
});
// Ctrl-C reaches the whole process group: the parent decides, and sends `stop`.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => controller.abort('interrupted by a signal'));

/** A diagnostic refusing a plan that is not the one the sweep planned for the trial, naming what differs; undefined for the same plan. */
function samePlanCheck(job: TrialJob): (plan: Plan) => ReturnType<typeof problem> | undefined {
  return (plan) => {
    const difference = planDifference(job.plan, planDigest(plan));
    if (!difference) return undefined;
    return problem(
      job.file,
      `sweep trial ${job.index} planned another plan than its sweep did: ${difference}`,
      'the trial runs only the plan its sweep recorded; start the sweep again to plan every trial anew (tlpipe sweep <pipeline>)',
    );
  };
}

async function start({ job, runsRoot }: Extract<ParentMessage, { type: 'start' }>): Promise<void> {
  try {
    const result = await run(
      { yaml: job.text, path: job.file },
      {
        overrides: job.overrides.map((o) => ({
          ...o,
          label: `sweep trial ${job.index}: ${o.path}=${JSON.stringify(o.value)}`,
        })),
        runsDir: runsRoot,
        resume: true,
        signal: controller.signal,
        checkPlan: samePlanCheck(job),
        ...(job.backend ? { backend: job.backend } : {}),
        ...(job.noCache ? { noCache: true } : {}),
        onEvent: (event) => {
          if (event.type !== 'batch-end' && event.type !== 'features-progress') send({ type: 'event', event });
        },
      },
    );
    const info = result.value;
    send({
      type: 'result',
      status: info?.status ?? (result.ok ? 'completed' : !result.ok && result.interrupted ? 'interrupted' : 'failed'),
      ...(info ? { run: `${info.pipeline}/${info.id}`, dir: info.dir } : {}),
      diagnostics: result.diagnostics.map((d) => formatDiagnostic(d)),
      ...(info?.record.error ? { reason: info.record.error.message } : {}),
    });
  } catch (error) {
    send({ type: 'result', status: 'crashed', diagnostics: [], reason: `internal error: ${(error as Error).message}` });
  }
  process.disconnect?.();
}
