import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic, KeyPath } from '../diagnostics/diagnostic.js';
import { UserError } from '../diagnostics/user-error.js';
import { inputsKey, loadInputs } from '../engine/facts/read-inputs.js';
import { canonicalJson, fingerprint } from '../plan/fingerprint.js';
import { planSections, splitSharedSections } from '../plan/plan-digest.js';
import { compareTrials, expandTrials, resolveSweep, type SweepSpec } from '../plan/sweep-trials.js';
import { fileSystemError } from '../store/disk-errors.js';
import {
  FINAL_TRIAL_STATES,
  listSweeps,
  SWEEP_FILE,
  SweepFolder,
  type SweepRecord,
  type SweepTrialPlan,
  type TrialState,
} from '../store/sweep-folder.js';
import { writeSweepReport } from '../store/sweep-report.js';
import { renderSweepReport } from '../render/sweep-report.js';
import { runTrialsLocally } from '../sweep/local-trials.js';
import { trialJobOf, type TrialJob } from '../sweep/trial-messages.js';
import type { RunEvent } from '../engine/events.js';
import { inputSource, loadInput, overrideList, runsRootOf } from './pipeline-input.js';
import { planVariant } from './plan-variant.js';
import {
  failed,
  ok,
  problem,
  type Cancellable,
  type Outcome,
  type PipelineInput,
  type PipelineOptions,
} from './types.js';

/**
 * The program each trial runs in (trial-child.ts, beside this file): the
 * sweep layer below starts it, and is given its path from here, so no
 * module refers to a layer above its own (the import test reads these
 * `new URL(…, import.meta.url)` references like imports).
 */
const TRIAL_CHILD = fileURLToPath(new URL('./trial-child.js', import.meta.url));

/** How a sweep's best trial is chosen, in words (the CLI says it under the best). */
export { rankingRule } from '../plan/sweep-trials.js';

/** One trial as planned: its values, its plan, and which of its parts other trials compute too. */
export interface PlannedTrial extends SweepTrialPlan {
  /** The task fingerprints of its plan (features, prefix, each stage): equal ones are computed once and shared through the stage cache. */
  tasks: { id: string; fingerprint: string }[];
  /** For each of its tasks another trial has too, those trials. */
  shares: { task: string; with: number[] }[];
}

export interface SweepPlan {
  pipeline: string;
  spec: SweepSpec;
  trials: PlannedTrial[];
  /** Tasks the trials have, and how many distinct ones are computed (the rest come from the stage cache). */
  work: { task: string; trials: number; distinct: number }[];
  fingerprint: string;
}

/**
 * Expands the pipeline's `sweep:` into trials, and validates and plans each
 * one before anything runs: a value that makes an invalid pipeline is an
 * error at the line of that value, and trials with the same plan are run
 * once (the later ones are `duplicateOf` the first).
 */
export async function planSweep(input: PipelineInput, options: PipelineOptions = {}): Promise<Outcome<SweepPlan>> {
  const planned = await planSweepWithSections(input, options);
  if (!planned.ok) return planned;
  const { sections: _s, ...plan } = planned.value;
  return { ...planned, value: plan };
}

/** planSweep, with each trial's plan section digests (in trial order): what sweep.json keeps for the trials' processes to compare with. */
async function planSweepWithSections(
  input: PipelineInput,
  options: PipelineOptions,
): Promise<Outcome<SweepPlan & { sections: Record<string, string>[] }>> {
  const loaded = loadInput(input, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  const { written, spec: pipelineSpec } = loaded.value;
  if (!written.sweep)
    return failed([
      problem(
        pipelineSpec.file,
        'this pipeline has no `sweep:`',
        'add a sweep: block (see the README, "Sweeps"), or run it once with `tlpipe run`',
      ),
    ]);
  if (pipelineSpec.evaluate.folds !== undefined && pipelineSpec.evaluate.fold === undefined)
    return failed([
      problem(
        pipelineSpec.file,
        `this pipeline asks for ${pipelineSpec.evaluate.folds}-fold cross-validation (evaluate.folds), and a sweep's trials are single runs`,
        'remove evaluate.folds to sweep; then cross-validate the values the sweep chose with `tlpipe run --folds k`',
      ),
    ]);
  const spec = resolveSweep(written.sweep, pipelineSpec.seed, pipelineSpec.task);
  const runsRoot = runsRootOf(options);
  // The data and the base file are read once for all trials; each trial builds its own base at its cut.
  const reads = new Map<string, ReturnType<typeof loadInputs>>();
  const readInputs: typeof loadInputs = (s, o) => {
    const key = inputsKey(s, o?.backend);
    if (!reads.has(key)) reads.set(key, loadInputs(s, o));
    return reads.get(key)!;
  };
  const diagnostics: Diagnostic[] = [];
  const warnings = [...loaded.warnings];
  const trials: PlannedTrial[] = [];
  const sections: Record<string, string>[] = [];
  for (const trial of expandTrials(spec)) {
    const trialOverrides = spec.parameters.map((p) => ({
      path: p.name,
      value: trial.values[p.name],
      label: `trial ${trial.index} (${p.name}=${JSON.stringify(trial.values[p.name])})`,
      at: valuePlace(p.name, p.values, trial.values[p.name]),
    }));
    const planned = await planVariant(input, [...overrideList(options.overrides), ...trialOverrides], {
      runsRoot,
      readInputs,
      ...(options.backend ? { backend: options.backend } : {}),
    });
    if (!planned.ok) {
      diagnostics.push(...planned.diagnostics);
      continue;
    }
    const { plan, tasks } = planned.value;
    sections.push(planSections(plan));
    const duplicate = trials.find((t) => t.fingerprint === plan.fingerprint && t.duplicateOf === undefined);
    trials.push({
      index: trial.index,
      values: trial.values,
      fingerprint: plan.fingerprint,
      epochs: plan.stages.at(-1)?.lastEpoch ?? 0,
      ...(duplicate ? { duplicateOf: duplicate.index } : {}),
      tasks,
      shares: [],
    });
  }
  if (diagnostics.length > 0) return failed(distinct(diagnostics), warnings);
  const running = trials.filter((t) => t.duplicateOf === undefined);
  for (const trial of trials) {
    trial.shares = trial.tasks
      .map((task) => ({
        task: task.id,
        with: running
          .filter((o) => o.index !== trial.index && o.tasks.some((t) => t.fingerprint === task.fingerprint))
          .map((o) => o.index),
      }))
      .filter((s) => s.with.length > 0);
  }
  const taskIds = [...new Set(running.flatMap((t) => t.tasks.map((x) => x.id)))];
  const work = taskIds.map((id) => {
    const having = running.flatMap((t) => t.tasks.filter((x) => x.id === id));
    return { task: id, trials: having.length, distinct: new Set(having.map((x) => x.fingerprint)).size };
  });
  return ok(
    {
      pipeline: pipelineSpec.name,
      spec,
      trials,
      work,
      fingerprint: fingerprint({ sweep: spec, trials: trials.map((t) => t.fingerprint) }),
      sections,
    },
    warnings,
  );
}

/** Where a trial's value is written: the item of `values` it came from, or the parameter (a drawn value). */
function valuePlace(name: string, values: unknown[] | undefined, value: unknown): KeyPath {
  const at: KeyPath = ['sweep', 'parameters', name];
  const item = values?.findIndex((v) => canonicalJson(v) === canonicalJson(value)) ?? -1;
  return item >= 0 ? [...at, 'values', item] : at;
}

/** The same problem found in several trials is said once. */
function distinct(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = `${d.file}:${d.line}:${d.col}:${d.message.replace(/ \(in trial .*\)$/, '')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What `sweep` reports as it goes: each trial's state change, and the trials' own run events. */
export type SweepEvent =
  | {
      type: 'sweep-start';
      id: string;
      dir: string;
      trials: number;
      duplicates: number;
      runner: SweepRecord['runner'];
      resumed: boolean;
    }
  | {
      type: 'trial';
      state: TrialState;
      values: Record<string, unknown>;
      counts: SweepCounts;
      best?: SweepRecord['best'];
    }
  | { type: 'trial-event'; index: number; event: RunEvent }
  | {
      type: 'sweep-end';
      id: string;
      dir: string;
      status: SweepRecord['status'];
      counts: SweepCounts;
      best?: SweepRecord['best'];
      seconds: number;
      paths: { results: string; report: string };
    }
  | { type: 'log'; level: 'info' | 'warn'; message: string };

export interface SweepCounts {
  total: number;
  completed: number;
  running: number;
  failed: number;
  stopped: number;
  queued: number;
}

export interface SweepOptions extends PipelineOptions, Cancellable {
  /** Local child processes running trials at once (default 1); ignored with `queue`. */
  jobs?: number;
  /** A Redis address (redis://host:port/db, or unix:///path/redis.sock): trials go on its BullMQ queue, and `tlpipe worker`s run them. */
  queue?: string;
  noCache?: boolean;
  onEvent?: (event: SweepEvent) => void;
}

export interface SweepInfo {
  id: string;
  dir: string;
  record: SweepRecord;
  trials: TrialState[];
  paths: { results: string; report: string };
}

/**
 * Plans the sweep, records it (runs/<pipeline>/sweeps/<NNNN>-<fp8>/) and
 * runs its trials — as local child processes, or through a queue that
 * workers take them from — then writes results.csv and report.html and
 * names the best trial. `ok` when every trial completed or was stopped early.
 */
export async function sweep(input: PipelineInput, options: SweepOptions = {}): Promise<Outcome<SweepInfo>> {
  const planned = await planSweepWithSections(input, options);
  if (!planned.ok) return failed(planned.diagnostics, planned.warnings);
  const runsRoot = runsRootOf(options);
  const { spec, trials } = planned.value;
  // Most sections are the same in every trial: kept once, each trial keeping its own.
  const { shared, own } = splitSharedSections(planned.value.sections);
  const source = inputSource(input);
  let folder: SweepFolder;
  try {
    folder = await SweepFolder.create(
      runsRoot,
      {
        pipeline: planned.value.pipeline,
        file: source.file,
        text: source.text,
        createdAt: new Date().toISOString(),
        status: 'running',
        spec,
        trials: trials.map(({ tasks: _t, shares: _s, ...t }, i) => ({ ...t, sections: own[i]! })),
        sharedSections: shared,
        runner: options.queue
          ? { kind: 'queue', queue: redactedAddress(options.queue) }
          : { kind: 'local', jobs: options.jobs ?? 1 },
        ...(options.backend ? { backend: options.backend } : {}),
        ...(options.noCache ? { noCache: true } : {}),
        overrides: overrideList(options.overrides).map(({ path: p, value }) => ({ path: p, value })),
      },
      planned.value.fingerprint,
    );
  } catch (error) {
    const cause = fileSystemError(error);
    if (!cause) throw error;
    return failed([cause.toDiagnostic(path.relative(process.cwd(), runsRoot) || '.')], planned.warnings);
  }
  return runSweep(folder, runsRoot, options, false, planned.warnings);
}

/**
 * Continues a sweep (its folder, `<pipeline>/sweeps/<NNNN>`, or `<pipeline>`
 * for its newest sweep): every trial the sweep folder does not record as
 * finished runs again, resuming its run from its checkpoint; on a queue,
 * the trials Redis no longer has are queued again.
 */
export async function resumeSweep(
  ref: string,
  options: Omit<SweepOptions, 'overrides'> = {},
): Promise<Outcome<SweepInfo>> {
  const runsRoot = runsRootOf(options);
  const dir = await findSweep(runsRoot, ref);
  if (!dir)
    return failed([
      problem(
        ref,
        `no sweep \`${ref}\` in ${path.relative(process.cwd(), runsRoot) || '.'}`,
        'name a sweep folder, <pipeline>/sweeps/<NNNN>, or <pipeline> for its newest sweep (`ls runs/<pipeline>/sweeps`)',
      ),
    ]);
  let folder: SweepFolder;
  try {
    folder = await SweepFolder.open(dir);
  } catch (error) {
    if (error instanceof UserError) return failed([error.toDiagnostic(ref)]);
    throw error;
  }
  const runner: SweepRecord['runner'] = options.queue
    ? { kind: 'queue', queue: redactedAddress(options.queue) }
    : { kind: 'local', jobs: options.jobs ?? 1 };
  await folder.update({ status: 'running', runner });
  return runSweep(
    folder,
    runsRoot,
    {
      ...options,
      ...(folder.record.backend && !options.backend
        ? { backend: folder.record.backend as NonNullable<SweepOptions['backend']> }
        : {}),
      ...(folder.record.noCache ? { noCache: true } : {}),
    },
    true,
    [],
  );
}

async function findSweep(runsRoot: string, ref: string): Promise<string | undefined> {
  const direct = [path.resolve(ref), path.join(runsRoot, ref)];
  // A folder with a sweep.json of any kind is the sweep meant: opening it then says what is wrong with it (a FIFO, a damaged record), rather than "no sweep".
  for (const dir of direct)
    if (
      await lstat(path.join(dir, SWEEP_FILE)).then(
        () => true,
        () => false,
      )
    )
      return dir;
  const match = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})(?:\/sweeps\/(\d{4,})(?:-[0-9a-f]{8})?)?$/.exec(ref);
  if (!match) return undefined;
  const sweeps = await listSweeps(runsRoot, match[1]!);
  return match[2] ? sweeps.find((d) => path.basename(d).startsWith(`${match[2]}-`)) : sweeps[0];
}

async function runSweep(
  folder: SweepFolder,
  runsRoot: string,
  options: SweepOptions,
  resumed: boolean,
  warnings: Diagnostic[],
): Promise<Outcome<SweepInfo>> {
  const started = Date.now();
  const { record } = folder;
  const emit = (event: SweepEvent): void => options.onEvent?.(event);
  const sweepRef = path.relative(runsRoot, folder.dir);
  const states = await folder.readTrials();
  const trialOf = new Map(record.trials.map((t) => [t.index, t]));
  const counts = (): SweepCounts => countTrials(record.trials, states);
  const onState = (state: TrialState): void => {
    states.set(state.index, state);
    emit({
      type: 'trial',
      state,
      values: trialOf.get(state.index)?.values ?? {},
      counts: counts(),
      ...bestOf(record, states),
    });
  };
  for (const trial of record.trials.filter((t) => t.duplicateOf !== undefined && !states.has(t.index))) {
    const state: TrialState = {
      index: trial.index,
      status: 'duplicate',
      attempts: 0,
      reason: `the same plan as trial ${trial.duplicateOf}, which runs once`,
      updatedAt: new Date().toISOString(),
    };
    await folder.writeTrial(state);
    states.set(trial.index, state);
  }
  emit({
    type: 'sweep-start',
    id: record.id,
    dir: folder.dir,
    trials: record.trials.length,
    duplicates: record.trials.filter((t) => t.duplicateOf !== undefined).length,
    runner: record.runner,
    resumed,
  });
  const jobs: TrialJob[] = record.trials
    .filter((t) => t.duplicateOf === undefined && !FINAL_TRIAL_STATES.has(states.get(t.index)?.status ?? 'queued'))
    .map((t) =>
      trialJobOf(record, sweepRef, t, {
        ...(options.backend ? { backend: options.backend } : {}),
        ...(options.noCache ? { noCache: true } : {}),
      }),
    );
  if (options.queue) {
    const { runTrialsOnQueue } = await import('../sweep/queue-trials.js');
    try {
      await runTrialsOnQueue(
        options.queue,
        folder,
        jobs.map((j) => j.index),
        {
          onState,
          onLog: (level, message) => emit({ type: 'log', level, message }),
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      await folder.update({ status: 'failed', endedAt: new Date().toISOString() });
      return failed([error.toDiagnostic(options.queue)], warnings);
    }
  } else {
    await runTrialsLocally(jobs, runsRoot, {
      jobs: options.jobs ?? 1,
      child: TRIAL_CHILD,
      onState,
      onEvent: (index, event) => emit({ type: 'trial-event', index, event }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
  const final = await folder.readTrials();
  const finalCounts = countTrials(record.trials, final);
  const interrupted = options.signal?.aborted === true;
  const status: SweepRecord['status'] = interrupted
    ? 'interrupted'
    : finalCounts.failed > 0 || finalCounts.queued + finalCounts.running > 0
      ? 'failed'
      : 'completed';
  const best = bestOf(record, final).best;
  await folder.update({ status, endedAt: new Date().toISOString(), ...(best ? { best } : {}) });
  const paths = await writeSweepReport(folder, final, renderSweepReport);
  const trialsList = [...final.values()].sort((a, b) => a.index - b.index);
  emit({
    type: 'sweep-end',
    id: record.id,
    dir: folder.dir,
    status,
    counts: finalCounts,
    ...(best ? { best } : {}),
    seconds: (Date.now() - started) / 1000,
    paths,
  });
  const info: SweepInfo = { id: record.id, dir: folder.dir, record: folder.record, trials: trialsList, paths };
  if (status === 'completed') return ok(info, warnings);
  if (interrupted) return { ok: false, value: info, diagnostics: [], warnings, interrupted: true };
  const failedTrials = trialsList.filter(
    (t) => t.status === 'failed' || t.status === 'queued' || t.status === 'running',
  );
  return failed(
    failedTrials.map((t) =>
      problem(
        `${record.pipeline}/sweeps/${record.id}`,
        `trial ${t.index} ${t.status === 'failed' ? 'failed' : 'did not finish'}: ${t.reason ?? ''}`.trim(),
        t.status === 'failed' ? undefined : `tlpipe sweep --resume ${record.pipeline}/sweeps/${record.id.slice(0, 4)}`,
      ),
    ),
    warnings,
    info,
  );
}

function countTrials(trials: readonly SweepTrialPlan[], states: ReadonlyMap<number, TrialState>): SweepCounts {
  const counts: SweepCounts = { total: trials.length, completed: 0, running: 0, failed: 0, stopped: 0, queued: 0 };
  for (const trial of trials) {
    const status = states.get(trial.index)?.status ?? 'queued';
    if (status === 'duplicate') continue;
    counts[status]++;
  }
  return counts;
}

/**
 * The best completed trial so far: by the sweep's metric, then val_loss, then
 * the lowest index (compareTrials), so a tie names the same best whatever
 * order the trials finished in. A stopped trial's value is of an earlier
 * epoch, so it does not compete.
 */
function bestOf(record: SweepRecord, states: ReadonlyMap<number, TrialState>): { best?: SweepRecord['best'] } {
  const ranked = [...states.values()]
    .filter((s) => s.status === 'completed' && s.metric !== undefined && Number.isFinite(s.metric) && s.run)
    .sort((a, b) => compareTrials(record.spec.metric, a, b));
  const top = ranked[0];
  return top ? { best: { index: top.index, metric: top.metric!, run: top.run! } } : {};
}

/** A Redis address as records keep it: without its password. */
export function redactedAddress(address: string): string {
  try {
    const url = new URL(address);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return address;
  }
}

export interface WorkerOptions extends Cancellable {
  /** The Redis address the sweeps queue their trials on. */
  queue: string;
  /** The runs folder every worker and the sweep share (default ./runs). */
  runsDir?: string;
  /** Trials run at once, each in a child process (default 1). */
  jobs?: number;
  onEvent?: (event: WorkerEvent) => void;
}

/** What a worker reports: the state changes of the trials it runs, their run events, and its own lines. */
export type WorkerEvent =
  { type: 'trial-state'; state: TrialState } | Extract<SweepEvent, { type: 'trial-event' | 'log' }>;

/**
 * Takes sweep trials from the queue until the signal stops it: each trial is
 * an ordinary run in the shared runs folder, recorded in its sweep folder.
 */
export async function worker(options: WorkerOptions): Promise<Outcome<{ processed: number; refused: number }>> {
  const { runWorker } = await import('../sweep/queue-trials.js');
  const emit = options.onEvent ?? ((): void => undefined);
  try {
    const value = await runWorker(options.queue, {
      runsRoot: runsRootOf(options),
      concurrency: options.jobs ?? 1,
      child: TRIAL_CHILD,
      ...(options.signal ? { signal: options.signal } : {}),
      onState: (state) => emit({ type: 'trial-state', state }),
      onEvent: (index, event) => emit({ type: 'trial-event', index, event }),
      onLog: (level, message) => emit({ type: 'log', level, message }),
    });
    return ok(value);
  } catch (error) {
    if (error instanceof UserError) return failed([error.toDiagnostic(options.queue)]);
    throw error;
  }
}
