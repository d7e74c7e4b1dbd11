import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RunEvent } from '../engine/events.js';
import { confinedPath } from '../platform/read-back.js';
import { ashaDecision, epochMetric, rungEpochs, trialMetric, trialValLoss } from '../plan/sweep-trials.js';
import { readMetricRows } from '../store/metrics-file.js';
import { readSummary } from '../store/summary-file.js';
import { SweepFolder, type TrialState } from '../store/sweep-folder.js';
import type { ChildMessage, ParentMessage, TrialJob } from './trial-messages.js';

const CHILD = fileURLToPath(new URL('../cli/trial-child.js', import.meta.url));
/** After `stop`, a trial's process finishes its batch and writes its checkpoint; one that takes longer than this is killed. */
const STOP_GRACE_MS = 60_000;

const isNumber = (value: number | null | undefined): value is number => typeof value === 'number' && Number.isFinite(value);

export interface TrialHooks {
  /** The trial's run events (batch and extraction progress left out). */
  onEvent?: (index: number, event: RunEvent) => void;
  /** Every change of the trial's recorded state. */
  onState?: (state: TrialState) => void;
  /** Stops the trial (Ctrl-C, a queue lock lost): its run ends interrupted, to be resumed; the trial is queued again. */
  signal?: AbortSignal;
  /** A crash on this attempt (or later) fails the trial instead of leaving it queued for another. */
  maxAttempts?: number;
}

export interface TrialOutcome {
  state: TrialState;
  /** The trial's process died or hit an internal error: worth another attempt, which resumes its run. */
  crashed: boolean;
}

/**
 * Runs one trial in a child process and records it in the sweep folder:
 * `running` when it starts, then how it ended. With early termination, the
 * trial's validation metric is compared at each rung epoch with the other
 * trials' there, and a trial that falls behind is stopped (`stopped`, with
 * the reason). Never throws for the trial's own failure: that is its state.
 */
export async function runTrial(job: TrialJob, runsRoot: string, hooks: TrialHooks = {}): Promise<TrialOutcome> {
  const folder = await SweepFolder.open(confinedPath(runsRoot, job.sweep, 'the sweep of a trial'));
  const { spec } = folder.record;
  const previous = await folder.readTrial(job.index);
  let state: TrialState = {
    index: job.index, status: 'running', attempts: (previous?.attempts ?? 0) + 1, by: `${os.hostname()}:${process.pid}`,
    ...(previous?.run ? { run: previous.run } : {}), updatedAt: new Date().toISOString(),
  };
  const record = async (change: Partial<TrialState>): Promise<void> => {
    state = { ...state, ...change, updatedAt: new Date().toISOString() };
    await folder.writeTrial(state);
    hooks.onState?.(state);
  };
  await record({});

  const epochs = folder.record.trials.find((t) => t.index === job.index)?.epochs ?? 0;
  const rungs = new Set(spec.earlyTerminate ? rungEpochs(spec.earlyTerminate, epochs) : []);
  let stoppedFor: { reason: string; metric: number } | undefined;
  let result: Extract<ChildMessage, { type: 'result' }> | undefined;
  let stderr = '';
  const child = fork(CHILD, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
  // tfjs greets on stdout and warns on stderr; a sweep's own output (--json) stays clean, and the end of stderr says why a process died.
  child.stdout!.resume();
  child.stderr!.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-4000)));
  const stop = (reason: string): void => {
    if (child.connected) child.send({ type: 'stop', reason } satisfies ParentMessage);
    setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS).unref();
  };
  const onAbort = (): void => stop('interrupted by a signal');
  hooks.signal?.addEventListener('abort', onAbort, { once: true });

  const pending: Promise<void>[] = [];
  child.on('message', (message: ChildMessage) => {
    if (message.type === 'result') {
      result = message;
      return;
    }
    const { event } = message;
    hooks.onEvent?.(job.index, event);
    if (event.type === 'run-start') pending.push(record({ run: `${event.pipeline}/${event.id}` }));
    if (event.type === 'epoch-end' && spec.earlyTerminate && rungs.has(event.metrics.epoch) && !stoppedFor) {
      const value = epochMetric(spec.metric.name, event.metrics);
      if (value === undefined) return;
      const asha = spec.earlyTerminate;
      pending.push(folder.recordRung(event.metrics.epoch, job.index, value).then((earlier) => {
        const reason = ashaDecision(spec.metric.goal, asha.reductionFactor, value, earlier);
        if (!reason) return;
        stoppedFor = { reason: `early termination at epoch ${event.metrics.epoch}: ${spec.metric.name} ${reason}`, metric: value };
        stop(`stopped by the sweep's early termination (epoch ${event.metrics.epoch})`);
      }));
    }
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.send({ type: 'start', job, runsRoot } satisfies ParentMessage);
  });
  hooks.signal?.removeEventListener('abort', onAbort);
  await Promise.all(pending);

  if (!result || result.status === 'crashed') {
    const how = result?.reason ?? (exit.signal ? `its process was killed (${exit.signal})` : `its process exited with code ${exit.code}`);
    const tail = stderr.trim().split('\n').slice(-3).join(' | ');
    const last = state.attempts >= (hooks.maxAttempts ?? Number.POSITIVE_INFINITY);
    await record({ status: last ? 'failed' : 'queued', reason: `${how}${tail && !result ? `: ${tail}` : ''}${last ? ` (attempt ${state.attempts} of ${hooks.maxAttempts})` : ''}` });
    return { state, crashed: true };
  }
  if (result.run) state.run = result.run;
  if (result.status === 'completed' && result.dir) {
    const [rows, summary] = await Promise.all([readMetricRows(result.dir), readSummary(result.dir)]);
    const restoredEpoch = summary?.stages.at(-1)?.restoredEpoch;
    const metric = trialMetric(spec.metric.name, { rows, ...(restoredEpoch !== undefined ? { restoredEpoch } : {}), ...(summary?.test ? { test: summary.test } : {}) });
    const valLoss = trialValLoss({ rows, ...(restoredEpoch !== undefined ? { restoredEpoch } : {}) });
    await record({
      status: 'completed', reason: undefined,
      // A diverged trial's NaN is null in JSON: recorded as absent, so its state still reads back.
      ...(isNumber(metric) ? { metric } : {}), ...(isNumber(valLoss) ? { valLoss } : {}),
      ...(summary?.test ? { test: { accuracy: summary.test.accuracy, loss: summary.test.loss } } : {}),
      epochs: rows.length, ...(summary?.resources ? { seconds: summary.resources.seconds } : {}),
    });
  } else if (result.status === 'interrupted' && stoppedFor) {
    await record({ status: 'stopped', reason: stoppedFor.reason, metric: stoppedFor.metric });
  } else if (result.status === 'interrupted') {
    await record({ status: 'queued', reason: 'interrupted; resumed from its checkpoint when run again' });
  } else {
    await record({ status: 'failed', reason: result.diagnostics.join('\n') || result.reason || 'failed' });
  }
  return { state, crashed: false };
}
