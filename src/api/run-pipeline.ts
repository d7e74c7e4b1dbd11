import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { UserError } from '../diagnostics/user-error.js';
import { RunInterrupted } from '../engine/errors.js';
import type { RunEvent, RunEventListener } from '../engine/events.js';
import { loadInputs } from '../engine/facts/read-inputs.js';
import { outOfMemoryError } from '../engine/kernels/backend.js';
import { runPlan } from '../engine/run/run-plan.js';
import { chooseResumePoint, type ResumeChoice } from '../engine/train/checkpoints.js';
import { loadPipelineText, type LoadedPipeline } from '../format/load-pipeline.js';
import type { BackendName } from '../format/types.js';
import type { Plan } from '../plan/types.js';
import { formatEventLine } from '../progress/event-lines.js';
import { fileSystemError } from '../store/disk-errors.js';
import { listRuns, resolveRunRef } from '../store/find-run.js';
import { truncateMetricRows } from '../store/metrics-file.js';
import { MODEL_DIR } from '../store/model-folder.js';
import { readResolved, writePlan, writeResolved } from '../store/plan-file.js';
import { writeGallery } from '../store/gallery-file.js';
import { writeMaskGallery } from '../store/mask-gallery-file.js';
import { REPORT_FILE, writeConfusionCsv, writeRunReport } from '../store/report-file.js';
import { PIPELINE_COPY, RunFolder } from '../store/run-folder.js';
import { renderDemoPage } from '../render/demo-page.js';
import { renderRunReport } from '../render/run-report.js';
import type { RunRecord, RunStatus } from '../store/run-record.js';
import { describeOwner, isLocked } from '../store/run-lock.js';
import { RunRecorder } from '../store/run-recorder.js';
import { statusOf } from '../store/run-status.js';
import { StageCacheFiles } from '../store/stage-cache-files.js';
import { SUMMARY_FILE, writeSummary, type RunSummary } from '../store/summary-file.js';
import { testHeadline } from '../store/tasks/registry.js';
import { auditIntoRun } from './audit.js';
import { overrideRecord, runsRootOf } from './pipeline-input.js';
import { planFromSpec, preparePlanUnlessInterrupted, type PreparedPlan } from './prepare-plan.js';
import {
  failed,
  interruptedEarly,
  ok,
  problem,
  type Cancellable,
  type Outcome,
  type PipelineOptions,
} from './types.js';

export interface RunOptions extends PipelineOptions, Cancellable {
  /** Every event of the run, in order: `run-start`, the engine's, `run-end`. */
  onEvent?: RunEventListener;
  /** Train every stage and extract features afresh, ignoring (and not filling) the stage cache. */
  noCache?: boolean;
  /** Continue the newest unfinished run of the same plan instead, when there is one. */
  resume?: boolean;
  /** Refuses the plan before anything is written, with the diagnostic it returns (a sweep trial checks its plan is its sweep's). */
  checkPlan?: (plan: Plan) => Diagnostic | undefined;
}

/** How a run ended and where it is. */
export interface RunInfo {
  pipeline: string;
  id: string;
  dir: string;
  status: Exclude<RunStatus, 'running'>;
  record: RunRecord;
  /** summary.json, for a completed run: test metrics, per-class metrics, confusion matrix, stages. */
  summary?: RunSummary;
  paths: { summary?: string; report?: string; model?: string };
}

export type RunResult = Outcome<RunInfo>;

/**
 * `run` once the pipeline has loaded and validated (run.ts loads it, then
 * this module, so that a pipeline refused as written never loads the engine).
 */
export async function runLoaded(
  loaded: { value: LoadedPipeline; warnings: Diagnostic[] },
  options: RunOptions = {},
): Promise<RunResult> {
  const runsRoot = runsRootOf(options);
  // Stopped while reading the data, before any run folder: nothing was written.
  const planned = await preparePlanUnlessInterrupted(loaded.value, {
    runsRoot,
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  if (planned === 'interrupted') return interruptedEarly(loaded.warnings);
  if (!planned.ok) return failed(planned.diagnostics, loaded.warnings);
  const warnings = [...loaded.warnings, ...planned.warnings];
  const { spec, plan, inputs } = planned.value;
  const refused = options.checkPlan?.(plan);
  if (refused) {
    inputs.base.dispose();
    return failed([refused], warnings);
  }
  if (options.resume) {
    const unfinished = await findResumableRun(runsRoot, spec.name, plan.fingerprint);
    if (unfinished) {
      inputs.base.dispose();
      return resume(unfinished, options);
    }
  }
  let folder: RunFolder | undefined;
  try {
    folder = await RunFolder.create({
      runsRoot,
      pipeline: spec.name,
      pipelineFile: spec.file,
      pipelineText: loaded.value.text,
      fingerprint: plan.fingerprint,
      seed: spec.seed,
      ...(options.overrides ? { overrides: overrideRecord(options.overrides) } : {}),
      renderDemoPage,
    });
    await writeResolved(folder.dir, spec);
    await writePlan(folder.dir, plan);
    await folder.update({
      backend: inputs.backend.name,
      ...(inputs.download ? { download: { url: inputs.download.url, sha256: inputs.download.sha256 } } : {}),
      ...(spec.base.run
        ? {
            upstream: {
              pipeline: spec.base.run.pipeline,
              run: spec.base.run.id!,
              fingerprint: spec.base.run.fingerprint!,
            },
          }
        : {}),
      ...(plan.strategy
        ? {
            strategy: {
              requested: plan.strategy.requested,
              chosen: plan.strategy.chosen,
              ...(plan.strategy.measurement ? { decision: plan.strategy.measurement.sentence } : {}),
            },
          }
        : {}),
    });
  } catch (error) {
    // The runs folder cannot be written (read-only, full, not ours): said, and a folder made so far marked failed.
    inputs.base.dispose();
    const cause = error instanceof UserError ? error : fileSystemError(error, folder?.dir);
    if (!cause) throw error;
    await folder
      ?.finish('failed', { message: cause.message, ...(cause.hint ? { hint: cause.hint } : {}) })
      .catch(() => undefined);
    return failed([cause.toDiagnostic(shownRuns(runsRoot))], warnings);
  }
  try {
    const notes: RunEvent[] = options.resume
      ? [
          {
            type: 'log',
            level: 'info',
            message: `no unfinished run of this plan in ${shownRuns(runsRoot)} to resume; starting a new run`,
          },
        ]
      : [];
    return await executeRun(folder, planned.value, { ...options, runsRoot, resumed: false, warnings, notes });
  } finally {
    inputs.base.dispose();
  }
}

const shownRuns = (runsRoot: string): string => path.relative(process.cwd(), runsRoot) || '.';

/**
 * Continues an interrupted or failed run (a folder, or `<pipeline>/<NNNN>`)
 * in its own folder from its latest complete checkpoint, with the pipeline
 * as that run resolved it. The inputs must still give the same plan.
 */
export async function resume(
  runRef: string,
  options: Omit<RunOptions, 'overrides' | 'resume'> = {},
): Promise<RunResult> {
  const runsRoot = runsRootOf(options);
  const found = await resolveRunRef(runsRoot, runRef);
  if (!found.ok) return failed([problem(runRef, found.message, found.hint)]);
  let folder: RunFolder;
  try {
    folder = await RunFolder.open(found.dir, renderDemoPage);
  } catch (error) {
    if (error instanceof UserError) return failed([error.toDiagnostic(runRef)]);
    throw error;
  }
  // One owner at a time: a second resume (or a run still going) is told who has the folder.
  const locked = await folder.lock('resume').catch((error: unknown) => {
    // The record is read again under the lock: damaged since, it is said like any damaged run.json.
    const cause = error instanceof UserError ? error : fileSystemError(error, folder.dir);
    if (!cause) throw error;
    return cause;
  });
  if (locked instanceof UserError) return failed([locked.toDiagnostic(runRef)]);
  if (!locked.ok) {
    const name = `${folder.record.pipeline}/${folder.record.id}`;
    return failed([
      problem(
        runRef,
        `run ${name} is in use by ${describeOwner(locked.owner)}`,
        'wait for it to end, or stop it (Ctrl-C or kill the process); a lock whose process has died is taken over',
      ),
    ]);
  }
  let handedOver = false;
  try {
    const result = await resumeLocked(folder, runRef, runsRoot, options);
    handedOver = result.handedOver;
    return result.outcome;
  } catch (error) {
    // A damaged file found before the run started (a checkpoint index, a run file): said, not thrown.
    if (error instanceof UserError) return failed([error.toDiagnostic(runRef)]);
    const cause = fileSystemError(error, folder.dir);
    if (!cause) throw error;
    return failed([cause.toDiagnostic(runRef)]);
  } finally {
    // A resume that could not start gives the folder back; one that ran gave it back when it finished.
    if (!handedOver) await folder.unlock();
  }
}

async function resumeLocked(
  folder: RunFolder,
  runRef: string,
  runsRoot: string,
  options: Omit<RunOptions, 'overrides' | 'resume'>,
): Promise<{ outcome: RunResult; handedOver: boolean }> {
  const early = (outcome: RunResult): { outcome: RunResult; handedOver: false } => ({ outcome, handedOver: false });
  const { record } = folder;
  const name = `${record.pipeline}/${record.id}`;
  if (record.status === 'completed') {
    // Completed means run.json says so and the outputs are there: a run whose folder went read-only or lost files is not.
    const missing = await missingOutputs(folder);
    if (missing.length === 0)
      return early(failed([problem(runRef, `run ${name} has already completed`, 'start a new run with `tlpipe run`')]));
    return early(
      failed([
        problem(
          runRef,
          `run ${name} says it completed, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing or not a file`,
          'its outputs were removed or never written; start a new run with `tlpipe run`',
        ),
      ]),
    );
  }
  const spec = await readResolved(folder.dir).catch((error: unknown) =>
    error instanceof UserError ? error : Promise.reject(error),
  );
  if (spec instanceof UserError) return early(failed([spec.toDiagnostic(runRef)]));
  if (!spec)
    return early(
      failed([
        problem(
          runRef,
          `run ${name} has no resolved.json, which resume needs`,
          'start a new run with `tlpipe run` (resolved.json is kept in every run folder that has not been copied from git)',
        ),
      ]),
    );
  // The run's copy of the pipeline places problems at their lines.
  // Read back like every file of the folder (confined, regular, bounded); without it problems are placed by key path only.
  const copyText = await folder.pipelineText().catch(() => undefined);
  const copy = copyText === undefined ? undefined : loadPipelineText(folder.path(PIPELINE_COPY), copyText);
  const source = copy?.ok ? copy.value.source : undefined;
  const backend = options.backend ?? (record.backend as BackendName | null) ?? spec.backend;
  let read: Awaited<ReturnType<typeof loadInputs>>;
  try {
    read = await loadInputs(spec, { backend, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    if (error instanceof RunInterrupted) return early(interruptedEarly());
    throw error;
  }
  if (!read.ok) return early(failed(read.diagnostics.map((d) => source?.locate(d) ?? d)));
  const planned = await planFromSpec(spec, read.value, source);
  if (!planned.ok) return early(failed(planned.diagnostics));
  const { plan, inputs } = planned.value;
  try {
    if (plan.fingerprint !== record.fingerprint) {
      return early(
        failed([
          problem(
            runRef,
            `the inputs of run ${name} changed since it started (plan ${record.fingerprint.slice(0, 8)}, now ${plan.fingerprint.slice(0, 8)})`,
            'resume needs the same dataset and base; start a new run with `tlpipe run`',
          ),
        ]),
      );
    }
    // The newest intact checkpoint, each one before it checked against its manifest and the plan; without one the run
    // starts over from its first epoch, in the same directory. Rows after it are computed again.
    const choice = await chooseResumePoint(folder, plan);
    const lastEpoch = choice.point?.state.epoch ?? 0;
    await truncateMetricRows(folder.dir, lastEpoch);
    // The baseline trains after the transfer run, from its first epoch each time.
    await truncateMetricRows(folder.dir, 0, 'baseline');
    // Logged first: a log that cannot be written (a link, say) leaves run.json as it was, not `running` for a process that gave up.
    await folder.appendLog(`${new Date().toISOString()} resumed from epoch ${lastEpoch} by pid ${process.pid}`);
    await folder.resumed(lastEpoch);
    // Said at the run's start, and kept in its log: which checkpoint was damaged, and where the run continues from.
    const notes: RunEvent[] = choice.warnings.map((message) => ({ type: 'log', level: 'warn', message }));
    return {
      outcome: await executeRun(folder, planned.value, {
        ...options,
        runsRoot,
        resumed: true,
        resumeFrom: choice,
        fromEpoch: lastEpoch,
        warnings: planned.warnings,
        notes,
      }),
      handedOver: true,
    };
  } finally {
    inputs.base.dispose();
  }
}

/** The outputs a completed run has written, those of them not (or no longer) there as regular files. */
async function missingOutputs(folder: RunFolder): Promise<string[]> {
  const outputs = [SUMMARY_FILE, REPORT_FILE, `${MODEL_DIR}/model.json`, `${MODEL_DIR}/weights.bin`];
  const present = await Promise.all(
    outputs.map((file) =>
      stat(folder.path(file)).then(
        (s) => s.isFile(),
        () => false,
      ),
    ),
  );
  return outputs.filter((_, i) => !present[i]);
}

/** The newest run of `pipeline` with this plan that has not completed and is not running. */
async function findResumableRun(runsRoot: string, pipeline: string, fingerprint: string): Promise<string | undefined> {
  for (const { dir, record } of await listRuns(runsRoot, pipeline)) {
    if (record.fingerprint !== fingerprint) continue;
    // Running as it really is: on another machine sharing the runs folder, by its heartbeat (its pid means nothing here).
    if (record.status === 'completed' || (await statusOf(dir, record)) === 'running' || (await isLocked(dir))) continue;
    return dir;
  }
  return undefined;
}

interface ExecuteOptions extends Omit<RunOptions, 'overrides' | 'resume'> {
  runsRoot: string;
  resumed: boolean;
  /** The checkpoint a resumed run continues from, already chosen and verified. */
  resumeFrom?: ResumeChoice;
  fromEpoch?: number;
  warnings: Diagnostic[];
  /** Events to send right after run-start. */
  notes: RunEvent[];
}

/**
 * Runs a planned run into its folder and records how it ended: a failure is
 * data (the run marked failed, a diagnostic), except a bug, which is marked
 * too and then thrown.
 */
async function executeRun(folder: RunFolder, planned: PreparedPlan, options: ExecuteOptions): Promise<RunResult> {
  const { spec, source, plan, inputs } = planned;
  const started = Date.now();
  const recorder = new RunRecorder(folder, formatEventLine);
  const emit = (event: RunEvent): void => {
    recorder.record(event);
    options.onEvent?.(event);
  };
  folder.startHeartbeat();
  emit({
    type: 'run-start',
    pipeline: spec.name,
    id: folder.id,
    dir: folder.dir,
    fingerprint: plan.fingerprint,
    backend: inputs.backend.name,
    resumed: options.resumed,
    ...(options.resumed ? { fromEpoch: options.fromEpoch ?? 0 } : {}),
    stages: plan.stages.map((s) => ({
      name: s.name,
      firstEpoch: s.firstEpoch,
      lastEpoch: s.lastEpoch,
      optimizer: s.optimizer.name,
      learningRate: s.optimizer.learningRate,
    })),
    features: plan.tasks.some((t) => t.kind === 'features') ? plan.features.mode : 'none',
    evaluates: plan.tasks.some((t) => t.kind === 'evaluate'),
  });
  for (const diagnostic of options.warnings) emit({ type: 'warning', diagnostic });
  for (const note of options.notes) emit(note);
  const end = (record: RunRecord, summary?: RunSummary): RunInfo => {
    const paths =
      record.status === 'completed'
        ? { summary: folder.path(SUMMARY_FILE), report: folder.path(REPORT_FILE), model: folder.path(MODEL_DIR) }
        : {};
    emit({
      type: 'run-end',
      pipeline: record.pipeline,
      id: record.id,
      dir: folder.dir,
      status: record.status as RunInfo['status'],
      seconds: record.seconds ?? 0,
      backend: inputs.backend.name,
      ...(summary?.test ? { test: testHeadline(summary.test) } : {}),
      ...(record.error ? { error: record.error } : {}),
      paths,
    });
    return {
      pipeline: record.pipeline,
      id: record.id,
      dir: folder.dir,
      status: record.status as RunInfo['status'],
      record,
      ...(summary ? { summary } : {}),
      paths,
    };
  };
  try {
    const cache = options.noCache
      ? undefined
      : new StageCacheFiles(path.join(options.runsRoot, '.cache'), undefined, (message) =>
          emit({ type: 'log', level: 'warn', message }),
        );
    // Before training: the base as the plan has it (a stage may fine-tune it); its features then serve the run from the cache.
    if (spec.evaluate.audit)
      await auditIntoRun(
        folder.dir,
        { plan, inputs, pipelineDir: path.dirname(spec.file) },
        {
          onEvent: emit,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(cache ? { cache } : {}),
        },
      );
    const outcome = await runPlan(plan, inputs, {
      onEvent: emit,
      output: folder,
      resume: options.resumed,
      ...(options.resumeFrom ? { resumeFrom: options.resumeFrom } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(cache ? { cache } : {}),
    });
    await recorder.flush();
    const summary: RunSummary = {
      status: 'completed',
      pipeline: spec.name,
      run: folder.id,
      backend: outcome.backend,
      classes: plan.classes.names,
      data: outcome.data,
      ...(outcome.source ? { source: outcome.source } : {}),
      stages: outcome.stages,
      ...(outcome.adapt
        ? {
            adapt: {
              method: outcome.adapt.method,
              images: outcome.adapt.images,
              batchNormLayers: outcome.adapt.batchNormLayers,
              seconds: outcome.adapt.seconds,
            },
          }
        : {}),
      ...(outcome.test ? { test: outcome.test } : {}),
      ...(outcome.baseline
        ? {
            baseline: {
              kind: 'scratch' as const,
              stages: outcome.baseline.stages,
              ...(outcome.baseline.test ? { test: outcome.baseline.test } : {}),
            },
          }
        : {}),
      ...(plan.strategy?.measurement ? { strategy: plan.strategy.measurement } : {}),
      ...(outcome.domainShift ? { domainShift: outcome.domainShift } : {}),
      export: outcome.export,
      resources: {
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        seconds: (Date.now() - started) / 1000,
      },
    };
    await writeSummary(folder.dir, summary, path.dirname(spec.file));
    if (outcome.test && 'confusionMatrix' in outcome.test)
      await writeConfusionCsv(folder.dir, outcome.test.confusionMatrix, plan.classes.names);
    if (outcome.gallery) await writeGallery(folder.dir, outcome.gallery, path.dirname(spec.file));
    if (outcome.masks) await writeMaskGallery(folder.dir, outcome.masks, path.dirname(spec.file));
    const ended = new Date();
    await writeRunReport(folder.dir, renderRunReport, undefined, folder.ending(ended));
    const record = await folder.finish('completed', undefined, ended);
    const info = end(record, summary);
    await recorder.settle();
    return ok(info, options.warnings);
  } catch (thrown) {
    await recorder.settle();
    // A full disk or an exhausted heap is the machine's state, not a bug: say so, and how to go on.
    const cause = fileSystemError(thrown, folder.dir) ?? outOfMemoryError(thrown, inputs.backend.name) ?? thrown;
    const stamp = new Date().toISOString();
    // Recording how it ended may fail too (the folder deleted, the disk full): the outcome is still said.
    const finishAs = (status: 'failed' | 'interrupted', error: RunRecord['error']): Promise<RunRecord> =>
      folder.finish(status, error).catch(() => ({
        ...folder.record,
        status,
        ...(error ? { error } : {}),
        seconds: (Date.now() - Date.parse(folder.record.startedAt)) / 1000,
      }));
    if (cause instanceof RunInterrupted) {
      await folder.appendLog(`${stamp} interrupted`).catch(() => undefined);
      // A caller that stops a run for a reason of its own (a sweep's early termination) gives it as the abort's reason.
      const reason = typeof options.signal?.reason === 'string' ? options.signal.reason : 'interrupted by a signal';
      const info = end(await finishAs('interrupted', { message: `${reason}; checkpoints so far are kept` }));
      await recorder.settle();
      return failed([], options.warnings, info);
    }
    if (cause instanceof UserError) {
      await folder.appendLog(`${stamp} failed: ${cause.message}`).catch(() => undefined);
      const info = end(
        await finishAs('failed', { message: cause.message, ...(cause.hint ? { hint: cause.hint } : {}) }),
      );
      await recorder.settle();
      const diagnostic = cause.toDiagnostic(spec.file);
      return failed([source?.locate(diagnostic) ?? diagnostic], options.warnings, info);
    }
    // A bug, not a user error: keep the stack in the log and the reason in run.json, then let it through.
    await folder
      .appendLog(`${stamp} internal error: ${(cause as Error).stack ?? String(cause)}`)
      .catch(() => undefined);
    end(await finishAs('failed', { message: `internal error: ${(cause as Error).message}` }));
    await recorder.settle();
    throw cause;
  }
}
