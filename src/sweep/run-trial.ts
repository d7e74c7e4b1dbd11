import { fork } from 'node:child_process';
import os from 'node:os';
import type { RunEvent } from '../engine/events.js';
import { confinedPath } from '../platform/read-back.js';
import {
  ashaDecision,
  epochMetric,
  rungEpochs,
  trialMetric,
  trialValLoss,
  type SweepSpec,
} from '../plan/sweep-trials.js';
import { readMetricRows } from '../store/metrics-file.js';
import { readSummary, type RunSummary } from '../store/summary-file.js';
import { testHeadline } from '../store/tasks/registry.js';
import { SweepFolder, type TrialState } from '../store/sweep-folder.js';
import type { ChildMessage, ParentMessage, TrialJob } from './trial-messages.js';

/** After `stop`, a trial's process finishes its batch and writes its checkpoint; one that takes longer than this is killed. */
const STOP_GRACE_MS = 60_000;
/** The end of a trial process's stderr kept: what says why it died. */
const STDERR_TAIL = 4000;

const isNumber = (value: number | null | undefined): value is number =>
  typeof value === 'number' && Number.isFinite(value);

export interface TrialHooks {
  /**
   * The program a trial runs in, a module path: the API's trial child,
   * given by the API (which it imports), so this layer has no path to a
   * layer above it. It speaks trial-messages.ts over an IPC channel.
   */
  child: string;
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

type TrialResult = Extract<ChildMessage, { type: 'result' }>;
type ProcessExit = { code: number | null; signal: NodeJS.Signals | null };

/**
 * Runs one trial in a child process and records it in the sweep folder:
 * `running` when it starts, then how it ended. With early termination, the
 * trial's validation metric is compared at each rung epoch with the other
 * trials' there, and a trial that falls behind is stopped (`stopped`, with
 * the reason). Never throws for the trial's own failure: that is its state.
 */
export async function runTrial(job: TrialJob, runsRoot: string, hooks: TrialHooks): Promise<TrialOutcome> {
  const folder = await SweepFolder.open(confinedPath(runsRoot, job.sweep, 'the sweep of a trial'));
  const previous = await folder.readTrial(job.index);
  let state: TrialState = {
    index: job.index,
    status: 'running',
    attempts: (previous?.attempts ?? 0) + 1,
    by: `${os.hostname()}:${process.pid}`,
    ...(previous?.run ? { run: previous.run } : {}),
    updatedAt: new Date().toISOString(),
  };
  const record = async (change: Partial<TrialState>): Promise<void> => {
    state = { ...state, ...change, updatedAt: new Date().toISOString() };
    await folder.writeTrial(state);
    hooks.onState?.(state);
  };
  await record({});
  const { result, exit, stderr, stoppedFor } = await runChild(job, runsRoot, folder, hooks, record);
  if (result?.run) state.run = result.run;
  const ending = trialEnding({
    result,
    exit,
    stderr,
    stoppedFor,
    attempts: state.attempts,
    ...(hooks.maxAttempts !== undefined ? { maxAttempts: hooks.maxAttempts } : {}),
  });
  if (ending.read) await record(await completedState(folder.record.spec, ending.read));
  else await record(ending.state);
  return { state, crashed: ending.crashed };
}

/**
 * The trial's process, from fork to exit: the job sent, its events passed
 * on (and the rungs of early termination recorded as they come), a stop
 * sent on the signal. Resolves once the process is gone and every record
 * its events started is written.
 */
async function runChild(
  job: TrialJob,
  runsRoot: string,
  folder: SweepFolder,
  hooks: TrialHooks,
  record: (change: Partial<TrialState>) => Promise<void>,
): Promise<{ result: TrialResult | undefined; exit: ProcessExit; stderr: string; stoppedFor: StoppedFor | undefined }> {
  const { spec } = folder.record;
  const epochs = folder.record.trials.find((t) => t.index === job.index)?.epochs ?? 0;
  const rungs = new Set(spec.earlyTerminate ? rungEpochs(spec.earlyTerminate, epochs) : []);
  let stoppedFor: StoppedFor | undefined;
  let result: TrialResult | undefined;
  let stderr = '';
  const child = fork(hooks.child, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
  // tfjs greets on stdout and warns on stderr; a sweep's own output (--json) stays clean, and the end of stderr says why a process died.
  child.stdout!.resume();
  child.stderr!.on('data', (chunk: Buffer) => void (stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL)));
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
      pending.push(
        folder.recordRung(event.metrics.epoch, job.index, value).then((earlier) => {
          const reason = ashaDecision(spec.metric.goal, asha.reductionFactor, value, earlier);
          if (!reason) return;
          stoppedFor = {
            reason: `early termination at epoch ${event.metrics.epoch}: ${spec.metric.name} ${reason}`,
            metric: value,
          };
          stop(`stopped by the sweep's early termination (epoch ${event.metrics.epoch})`);
        }),
      );
    }
  });
  const exit = await new Promise<ProcessExit>((resolve) => {
    child.on('error', () => undefined);
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.send({ type: 'start', job, runsRoot } satisfies ParentMessage);
  });
  hooks.signal?.removeEventListener('abort', onAbort);
  await Promise.all(pending);
  return { result, exit, stderr, stoppedFor };
}

export interface StoppedFor {
  reason: string;
  metric: number;
}

/** How a trial's process ended, as trialEnding reads it. */
export interface TrialProcessEnd {
  /** The result the process sent, if it sent one. */
  result: TrialResult | undefined;
  exit: ProcessExit;
  /** The end of its stderr. */
  stderr: string;
  /** Early termination's reason, when the sweep stopped it. */
  stoppedFor?: StoppedFor | undefined;
  /** This attempt's number, from 1. */
  attempts: number;
  maxAttempts?: number;
}

/**
 * The trial's state from how its process ended: crashed (no result, or an
 * internal error) → queued for another attempt, or failed on the last;
 * completed → its metrics, read from its run folder (`read`); interrupted
 * → stopped when early termination stopped it, else queued to resume;
 * failed → failed with its diagnostics. Pure.
 */
export function trialEnding(end: TrialProcessEnd): { state: Partial<TrialState>; crashed: boolean; read?: string } {
  const { result, exit } = end;
  if (!result || result.status === 'crashed') {
    const how =
      result?.reason ??
      (exit.signal ? `its process was killed (${exit.signal})` : `its process exited with code ${exit.code}`);
    const tail = end.stderr.trim().split('\n').slice(-3).join(' | ');
    const last = end.attempts >= (end.maxAttempts ?? Number.POSITIVE_INFINITY);
    return {
      crashed: true,
      state: {
        status: last ? 'failed' : 'queued',
        reason: `${how}${tail && !result ? `: ${tail}` : ''}${last ? ` (attempt ${end.attempts} of ${end.maxAttempts})` : ''}`,
      },
    };
  }
  if (result.status === 'completed' && result.dir)
    return { crashed: false, state: { status: 'completed' }, read: result.dir };
  if (result.status === 'interrupted' && end.stoppedFor)
    return {
      crashed: false,
      state: { status: 'stopped', reason: end.stoppedFor.reason, metric: end.stoppedFor.metric },
    };
  if (result.status === 'interrupted')
    return {
      crashed: false,
      state: { status: 'queued', reason: 'interrupted; resumed from its checkpoint when run again' },
    };
  return {
    crashed: false,
    state: { status: 'failed', reason: result.diagnostics.join('\n') || result.reason || 'failed' },
  };
}

/** A completed trial's state: its metric (as the sweep ranks trials), val_loss, test results, epochs and seconds, from its run folder. */
async function completedState(spec: SweepSpec, dir: string): Promise<Partial<TrialState>> {
  const [rows, summary] = await Promise.all([readMetricRows(dir), readSummary(dir)]);
  return completedStateOf(spec, rows, summary);
}

/** completedState from the run's metric rows and summary. Pure. */
export function completedStateOf(
  spec: SweepSpec,
  rows: Parameters<typeof trialMetric>[1]['rows'],
  summary: RunSummary | undefined,
): Partial<TrialState> {
  const restoredEpoch = summary?.stages.at(-1)?.restoredEpoch;
  const metric = trialMetric(spec.metric.name, {
    rows,
    ...(restoredEpoch !== undefined ? { restoredEpoch } : {}),
    ...(summary?.test ? { test: trialTest(summary.test) } : {}),
  });
  const valLoss = trialValLoss({ rows, ...(restoredEpoch !== undefined ? { restoredEpoch } : {}) });
  return {
    status: 'completed',
    reason: undefined,
    // A diverged trial's NaN is null in JSON: recorded as absent, so its state still reads back.
    ...(isNumber(metric) ? { metric } : {}),
    ...(isNumber(valLoss) ? { valLoss } : {}),
    ...(summary?.test ? { test: trialTest(summary.test) } : {}),
    epochs: rows.length,
    ...(summary?.resources ? { seconds: summary.resources.seconds } : {}),
  };
}

/** What a trial records of its test split: accuracy, and the loss or AUROC its task has. */
function trialTest(test: NonNullable<RunSummary['test']>): NonNullable<TrialState['test']> {
  const { examples: _examples, ...headline } = testHeadline(test);
  return headline;
}
