/**
 * k-fold cross-validation (`evaluate: { folds: k }`, `tlpipe run --folds k`):
 * the pipeline's train+validation examples divided into k stratified, seeded
 * folds; fold i is an ordinary run (`evaluate.fold: i`) that trains on the
 * other folds and validates on fold i, and every fold is evaluated on the
 * untouched test split. The folds run as the trials of a sweep record in
 * runs/<pipeline>/kfold/<NNNN>-<fp8>/ — the sweep's trial processes, -j,
 * crash retries and resume — and the frozen base's features of the pool are
 * extracted by the first fold and read from the stage cache by the others.
 * The k-fold run trains no model of its own.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { UserError } from '../diagnostics/user-error.js';
import type { RunEvent } from '../engine/events.js';
import { loadInputs, withFold, type LoadedInputs } from '../engine/facts/read-inputs.js';
import type { PipelineSpec } from '../format/types.js';
import { fingerprint } from '../plan/fingerprint.js';
import { metricsOverFolds } from '../plan/fold-metrics.js';
import { confinedPath } from '../platform/read-back.js';
import type { SweepSpec } from '../plan/sweep-trials.js';
import { renderKfoldReport } from '../render/kfold-report.js';
import { fileSystemError } from '../store/disk-errors.js';
import {
  KFOLD_DIR,
  writeFolds,
  writeKfoldReport,
  writeKfoldSummary,
  FOLDS_FILE,
  KFOLD_SUMMARY_FILE,
  type FoldRunSummary,
  type FoldsRecord,
  type KfoldSummary,
} from '../store/kfold-folder.js';
import { readMetricRows } from '../store/metrics-file.js';
import { readSummary } from '../store/summary-file.js';
import { FINAL_TRIAL_STATES, listSweeps, SweepFolder, type TrialState } from '../store/sweep-folder.js';
import { runTrialsLocally } from '../sweep/local-trials.js';
import { trialJobOf } from '../sweep/trial-messages.js';
import { foldTestMetrics } from './fold-test-metrics.js';
import { foldsOf, inputSource, loadInput, overrideList, runsRootOf } from './pipeline-input.js';
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

/** The program each fold runs in: the sweep's trial child (an ordinary run with the fold's value set). */
const TRIAL_CHILD = fileURLToPath(new URL('./trial-child.js', import.meta.url));
/** The key each fold run sets. */
const FOLD_KEY = 'evaluate.fold';

/** One fold as planned. */
export interface PlannedFold {
  fold: number;
  fingerprint: string;
  epochs: number;
  counts: { train: number; validation: number; test: number };
  /** The fingerprints of its features tasks and stages: equal ones are computed once and shared through the stage cache. */
  tasks: { id: string; fingerprint: string }[];
}

export interface KfoldPlan {
  pipeline: string;
  k: number;
  seed: number;
  folds: PlannedFold[];
  /** For each task the folds have: how many distinct ones are computed (the rest come from the stage cache). */
  work: { task: string; folds: number; distinct: number }[];
  assignment: FoldsRecord;
  fingerprint: string;
}

export { foldsOf };

/** Every fold validated and planned before anything runs, and the assignment of examples to folds. */
export async function planCrossValidation(
  input: PipelineInput,
  options: PipelineOptions = {},
): Promise<Outcome<KfoldPlan>> {
  const loaded = loadInput(input, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  const { spec } = loaded.value;
  const k = spec.evaluate.folds;
  if (k === undefined || spec.evaluate.fold !== undefined)
    return failed([
      problem(
        spec.file,
        k === undefined
          ? 'this pipeline asks for no k-fold cross-validation'
          : `this pipeline is fold ${spec.evaluate.fold} of ${k} alone`,
        k === undefined
          ? 'set `evaluate: { folds: 5 }` or pass --folds 5'
          : 'run it with `tlpipe run`; remove evaluate.fold to run every fold',
      ),
    ]);
  const runsRoot = runsRootOf(options);
  // The data and the base are read once: each fold's selection is the pipeline's own, divided (withFold).
  let shared: ReturnType<typeof loadInputs> | undefined;
  const readInputs: typeof loadInputs = async (s, o) => {
    const read = await (shared ??= loadInputs(withoutFold(s), o));
    if (!read.ok) return read;
    return { ...read, value: { ...read.value, ...withFold(s, read.value.dataset, read.value.selection) } };
  };
  const diagnostics: Diagnostic[] = [];
  const folds: PlannedFold[] = [];
  let first: (LoadedInputs & { classNames: string[] }) | undefined;
  for (let fold = 1; fold <= k; fold++) {
    const planned = await planVariant(
      input,
      [...overrideList(options.overrides), { path: FOLD_KEY, value: fold, label: `fold ${fold} of ${k}` }],
      { runsRoot, readInputs, ...(options.backend ? { backend: options.backend } : {}) },
    );
    if (!planned.ok) {
      diagnostics.push(...planned.diagnostics);
      break;
    }
    const { plan, inputs, tasks } = planned.value;
    first ??= { ...inputs, classNames: plan.classes.names };
    folds.push({
      fold,
      fingerprint: plan.fingerprint,
      epochs: plan.stages.at(-1)?.lastEpoch ?? 0,
      counts: {
        train: inputs.selection.train.length,
        validation: inputs.selection.validation.length,
        test: inputs.selection.test.length,
      },
      tasks,
    });
  }
  if (diagnostics.length > 0 || !first?.fold) return failed(diagnostics, loaded.warnings);
  const pool = first.fold.pool.length;
  if (pool < k)
    return failed(
      [
        {
          ...problem(
            spec.file,
            `${k} folds need at least ${k} examples in train+validation, and this pipeline has ${pool}`,
            'use fewer folds, or raise dataset.limit',
          ),
          path: ['evaluate', 'folds'],
        },
      ].map((d) => loaded.value.source.locate(d)),
      loaded.warnings,
    );
  const taskIds = [...new Set(folds.flatMap((f) => f.tasks.map((t) => t.id)))];
  const work = taskIds.map((id) => {
    const having = folds.flatMap((f) => f.tasks.filter((t) => t.id === id));
    return { task: id, folds: having.length, distinct: new Set(having.map((t) => t.fingerprint)).size };
  });
  return ok(
    {
      pipeline: spec.name,
      k,
      seed: spec.seed,
      folds,
      work,
      assignment: foldsRecord(first, first.fold, k, spec.seed),
      fingerprint: fingerprint({ kfold: k, folds: folds.map((f) => f.fingerprint) }),
    },
    loaded.warnings,
  );
}

const withoutFold = (spec: PipelineSpec): PipelineSpec => {
  const { fold: _fold, ...evaluate } = spec.evaluate;
  return { ...spec, evaluate };
};

function foldsRecord(
  inputs: LoadedInputs & { classNames: string[] },
  assignment: NonNullable<LoadedInputs['fold']>,
  k: number,
  seed: number,
): FoldsRecord {
  const labels = inputs.dataset.train.labels;
  const folds = Array.from({ length: k }, (_, f) => {
    const members = assignment.pool.filter((_, at) => assignment.folds[at] === f);
    const perClass: Record<string, number> = Object.fromEntries(inputs.classNames.map((n) => [n, 0]));
    for (const index of members) {
      const name = inputs.classNames[labels[index]!] ?? String(labels[index]);
      perClass[name] = (perClass[name] ?? 0) + 1;
    }
    return { fold: f + 1, examples: members.length, perClass };
  });
  return {
    k,
    seed,
    method: 'stratified',
    pool: assignment.pool,
    foldOf: assignment.folds.map((f) => f + 1),
    folds,
    test: inputs.selection.test.length,
  };
}

/** What a k-fold run reports as it goes. */
export type KfoldEvent =
  | { type: 'kfold-start'; id: string; dir: string; k: number; toRun: number; resumed: boolean }
  | { type: 'fold'; fold: number; state: TrialState }
  | { type: 'fold-event'; fold: number; event: RunEvent }
  | {
      type: 'kfold-end';
      id: string;
      dir: string;
      status: KfoldSummary['status'];
      seconds: number;
      paths: { summary: string; report: string; folds: string };
    };

export interface CrossValidateOptions extends PipelineOptions, Cancellable {
  /** Folds at once, each a child process (default 1). */
  jobs?: number;
  noCache?: boolean;
  /** Continue the newest unfinished k-fold run of the same plan: its finished folds are kept, the others run (resuming their runs). */
  resume?: boolean;
  onEvent?: (event: KfoldEvent) => void;
}

export interface KfoldInfo {
  id: string;
  dir: string;
  summary: KfoldSummary;
  paths: { summary: string; report: string; folds: string };
}

/** The sweep specification the folds run under: one parameter, the fold. */
const foldSweepSpec = (k: number, seed: number): SweepSpec => ({
  method: 'grid',
  metric: { name: 'val_accuracy', goal: 'maximize' },
  seed,
  parameters: [
    {
      name: FOLD_KEY,
      path: ['evaluate', 'fold'],
      values: Array.from({ length: k }, (_, i) => i + 1),
      distribution: 'uniform',
    },
  ],
});

/**
 * Plans every fold, records the k-fold run (or, with `resume`, reopens the
 * newest unfinished one of the same plan), runs the folds that have not
 * completed, and writes summary.json and report.html. `ok` when every fold
 * completed; a failed fold fails the k-fold run, with its reason.
 */
export async function crossValidate(
  input: PipelineInput,
  options: CrossValidateOptions = {},
): Promise<Outcome<KfoldInfo>> {
  const started = Date.now();
  const planned = await planCrossValidation(input, options);
  if (!planned.ok) return failed(planned.diagnostics, planned.warnings);
  const plan = planned.value;
  const runsRoot = runsRootOf(options);
  const emit = (event: KfoldEvent): void => options.onEvent?.(event);
  let folder: SweepFolder;
  let resumed = false;
  try {
    const unfinished = options.resume ? await findUnfinished(runsRoot, plan) : undefined;
    if (unfinished) {
      folder = unfinished;
      resumed = true;
      await folder.update({ status: 'running' });
    } else {
      const source = inputSource(input);
      folder = await SweepFolder.create(
        runsRoot,
        {
          pipeline: plan.pipeline,
          file: source.file,
          text: source.text,
          createdAt: new Date().toISOString(),
          status: 'running',
          spec: foldSweepSpec(plan.k, plan.seed),
          trials: plan.folds.map((f) => ({
            index: f.fold - 1,
            values: { [FOLD_KEY]: f.fold },
            fingerprint: f.fingerprint,
            epochs: f.epochs,
          })),
          runner: { kind: 'local', jobs: options.jobs ?? 1 },
          ...(options.backend ? { backend: options.backend } : {}),
          ...(options.noCache ? { noCache: true } : {}),
          overrides: overrideList(options.overrides).map(({ path: p, value }) => ({ path: p, value })),
        },
        plan.fingerprint,
        KFOLD_DIR,
      );
    }
    await writeFolds(folder.dir, plan.assignment);
  } catch (error) {
    const cause = error instanceof UserError ? error : fileSystemError(error);
    if (!cause) throw error;
    return failed([cause.toDiagnostic(path.relative(process.cwd(), runsRoot) || '.')], planned.warnings);
  }
  const { record } = folder;
  const states = await folder.readTrials();
  const jobs = record.trials
    .filter((t) => !FINAL_TRIAL_STATES.has(states.get(t.index)?.status ?? 'queued'))
    .map((t) =>
      trialJobOf(record, path.relative(runsRoot, folder.dir), t, {
        ...(options.backend ? { backend: options.backend } : {}),
        ...(options.noCache ? { noCache: true } : {}),
      }),
    );
  emit({ type: 'kfold-start', id: record.id, dir: folder.dir, k: plan.k, toRun: jobs.length, resumed });
  await runTrialsLocally(jobs, runsRoot, {
    jobs: options.jobs ?? 1,
    child: TRIAL_CHILD,
    onState: (state) => emit({ type: 'fold', fold: state.index + 1, state }),
    onEvent: (index, event) => emit({ type: 'fold-event', fold: index + 1, event }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const final = await folder.readTrials();
  const interrupted = options.signal?.aborted === true;
  const folds = await Promise.all(record.trials.map((t) => foldSummary(runsRoot, t.index + 1, final.get(t.index))));
  const unfinished = folds.filter((f) => f.status !== 'completed');
  const status: KfoldSummary['status'] = interrupted ? 'interrupted' : unfinished.length > 0 ? 'failed' : 'completed';
  const error =
    status === 'failed'
      ? unfinished
          .map((f) => `fold ${f.fold} ${f.status === 'failed' ? 'failed' : 'did not finish'}: ${f.reason ?? f.status}`)
          .join('; ')
      : undefined;
  const summary: KfoldSummary = {
    kind: 'kfold',
    status,
    pipeline: record.pipeline,
    id: record.id,
    k: plan.k,
    seed: plan.seed,
    ...(error ? { error } : {}),
    std: 'sample (n - 1)',
    folds,
    metrics: metricsOverFolds(folds.map((f) => f.metrics)),
    model: null,
  };
  await writeKfoldSummary(folder.dir, summary);
  const report = await writeKfoldReport(folder.dir, summary, renderKfoldReport);
  await folder.update({ status, endedAt: new Date().toISOString() });
  const paths = {
    summary: path.join(folder.dir, KFOLD_SUMMARY_FILE),
    report,
    folds: path.join(folder.dir, FOLDS_FILE),
  };
  emit({ type: 'kfold-end', id: record.id, dir: folder.dir, status, seconds: (Date.now() - started) / 1000, paths });
  const info: KfoldInfo = { id: record.id, dir: folder.dir, summary, paths };
  if (status === 'completed') return ok(info, planned.warnings);
  if (interrupted) return { ok: false, value: info, diagnostics: [], warnings: planned.warnings, interrupted: true };
  const where = `${record.pipeline}/${KFOLD_DIR}/${record.id}`;
  return failed(
    unfinished.map((f) =>
      problem(
        where,
        `fold ${f.fold} ${f.status === 'failed' ? 'failed' : 'did not finish'}${f.reason ? `: ${f.reason}` : ''}`,
        f.status === 'failed' ? undefined : 'continue it with `tlpipe run <pipeline> --resume`',
      ),
    ),
    planned.warnings,
    info,
  );
}

/** The newest k-fold run of this plan (the same folds' plans) that has not completed. */
async function findUnfinished(runsRoot: string, plan: KfoldPlan): Promise<SweepFolder | undefined> {
  const want = plan.folds.map((f) => f.fingerprint).join();
  for (const dir of await listSweeps(runsRoot, plan.pipeline, KFOLD_DIR)) {
    const folder = await SweepFolder.open(dir).catch(() => undefined);
    if (!folder || folder.record.status === 'completed') continue;
    if (folder.record.trials.map((t) => t.fingerprint).join() === want) return folder;
  }
  return undefined;
}

/** A fold's line in summary.json: how it ended, its run, and its metrics read from the run folder. */
async function foldSummary(runsRoot: string, fold: number, state: TrialState | undefined): Promise<FoldRunSummary> {
  const base = {
    fold,
    status: state?.status ?? 'queued',
    ...(state?.run ? { run: state.run } : {}),
    ...(state?.reason && state.status !== 'completed' ? { reason: state.reason } : {}),
  };
  if (state?.status !== 'completed' || !state.run) return { ...base, metrics: {} };
  // The trial's state file names its run folder; nothing read back is trusted, so it must lie inside the runs folder.
  let dir: string;
  try {
    dir = confinedPath(runsRoot, state.run, `fold ${fold}'s run folder`);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { fold, status: 'failed', reason: error.message, metrics: {} };
  }
  return { ...base, metrics: await foldMetrics(dir) };
}

/** val_* at the epoch whose weights the fold ends with (the last stage's restored epoch, else the last), and the test split's metrics (with TTA and the decision rule's when asked). */
async function foldMetrics(dir: string): Promise<Record<string, number>> {
  const [rows, summary] = await Promise.all([readMetricRows(dir), readSummary(dir)]);
  const epoch = summary?.stages.at(-1)?.restoredEpoch ?? Math.max(0, ...rows.map((r) => r.epoch));
  const row = rows.find((r) => r.epoch === epoch);
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(row ?? {}))
    if (key.startsWith('val_') && typeof value === 'number') out[key] = value;
  const test = summary?.test;
  if (test && !('task' in test)) Object.assign(out, foldTestMetrics(test));
  return out;
}

export type { KfoldSummary, FoldsRecord } from '../store/kfold-folder.js';

export { meanPlusMinus } from '../plan/fold-metrics.js';
