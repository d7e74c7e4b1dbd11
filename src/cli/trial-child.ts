/**
 * One sweep trial in a process of its own, started by sweep/run-trial.ts
 * with an IPC channel: training never runs in the event loop of the process
 * that schedules trials (a BullMQ worker's job locks would stall). It runs
 * the trial with the library's `run`, resuming the trial's unfinished run
 * folder when there is one, and sends back the events and the outcome.
 * When the channel closes (its parent died), the run is stopped as by
 * Ctrl-C: it ends `interrupted` with its checkpoints, to be resumed.
 */
import { formatDiagnostic } from '../api/index.js';
import { run } from '../api/run.js';
import type { ChildMessage, ParentMessage } from '../sweep/trial-messages.js';

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

async function start({ job, runsRoot }: Extract<ParentMessage, { type: 'start' }>): Promise<void> {
  try {
    const result = await run({ yaml: job.text, path: job.file }, {
      overrides: job.overrides.map((o) => ({ ...o, label: `sweep trial ${job.index}: ${o.path}=${JSON.stringify(o.value)}` })),
      runsDir: runsRoot,
      resume: true,
      signal: controller.signal,
      ...(job.backend ? { backend: job.backend } : {}),
      ...(job.noCache ? { noCache: true } : {}),
      onEvent: (event) => {
        if (event.type !== 'batch-end' && event.type !== 'features-progress') send({ type: 'event', event });
      },
    });
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
