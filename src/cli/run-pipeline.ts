import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RunInterrupted, UserError } from '../engine/errors.js';
import type { EngineEvent } from '../engine/events.js';
import { executePlan } from '../engine/run/run-plan.js';
import { confusionMatrixCsv } from '../engine/evaluate/metrics.js';
import { prepareInputs, type PreparedInputs } from '../engine/facts/gather-facts.js';
import { compilePlan } from '../plan/compile-plan.js';
import { heapProblems } from '../plan/memory-estimate.js';
import type { Plan } from '../plan/types.js';
import { formatEventLine } from '../progress/event-lines.js';
import { jsonRenderer, listrRenderer, plainRenderer, type ProgressMode, type ProgressRenderer } from '../progress/renderers.js';
import { formatDiagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import { loadPipeline, type LoadedPipeline } from '../format/load-pipeline.js';
import type { SourceFile } from '../format/source-file.js';
import type { BackendName, PipelineSpec } from '../format/types.js';
import { findRun, listRuns } from '../store/find-run.js';
import { RunDirectory, type RunRecord } from '../store/run-directory.js';
import { isAlive, overviewOf } from '../store/run-status.js';
import { StageCacheFiles } from '../store/stage-cache-files.js';
import { singleRunReport } from './run-records.js';

export interface RunOptions {
  runsRoot: string;
  backend?: BackendName;
  progress: ProgressMode;
  signal?: AbortSignal;
  /** Where human output goes (stderr for --json, so stdout stays machine-readable). */
  print: (line: string) => void;
  /** Train every stage and extract features afresh, ignoring (and not filling) the stage cache. */
  noCache?: boolean;
}

export type Outcome =
  | { kind: 'invalid'; diagnostics: Diagnostic[] }
  | { kind: 'ran'; run: RunRecord; dir: string; diagnostics: Diagnostic[] };

/** Load → find upstream runs → prepare inputs → plan: everything short of running. Shared by `plan` and `run`. */
export async function planPipeline(
  file: string,
  options: { backend?: BackendName; runsRoot: string },
): Promise<{ ok: false; diagnostics: Diagnostic[] } | { ok: true; loaded: LoadedPipeline; prepared: PreparedInputs; plan: Plan; warnings: Diagnostic[] }> {
  const backend = options.backend;
  const loaded = loadPipeline(file);
  if (!loaded.ok) return loaded;
  const { source } = loaded.value;
  let spec = loaded.value.spec;
  if (spec.base.run) {
    // A run: base is the exported model of an earlier run, found in the runs folder.
    const found = await findRun(options.runsRoot, spec.base.run.pipeline, spec.base.run.id);
    if (!found.ok) return { ok: false, diagnostics: [source.at({ path: ['base', 'model'] }, { path: ['base', 'model'], message: found.message, hint: found.hint, severity: 'error' })] };
    spec = { ...spec, base: { ...spec.base, file: path.join(found.dir, 'model', 'model.json'), run: { ...spec.base.run, id: found.record.id, fingerprint: found.record.fingerprint } } };
    loaded.value.spec = spec;
  }
  const prepared = await prepareInputs(spec, backend ? { backend } : {});
  if (!prepared.ok) return { ok: false, diagnostics: prepared.diagnostics.map((d) => source.locate(d)) };
  // `strategy: auto` resolves the pipeline again once it has measured.
  spec = prepared.value.spec;
  loaded.value.spec = spec;
  const plan = compilePlan(spec, prepared.value.planInputs);
  if (!plan.ok) {
    prepared.value.base.dispose();
    return { ok: false, diagnostics: plan.diagnostics.map((d) => source.locate(d)) };
  }
  // The wasm heap is 4 GiB: a batch that cannot fit is an error now, not an abort mid-run.
  if (prepared.value.backend.name === 'wasm') {
    const tooLarge = heapProblems(plan.value).map((p): Diagnostic => {
      const own = ['train', 'stages', p.stage.index, 'batchSize'];
      const at = source.has(own) ? own : source.has(['train', 'batchSize']) ? ['train', 'batchSize'] : ['train', 'stages', p.stage.index];
      return source.locate({
        file: spec.file, path: at, severity: 'error',
        message: `stage \`${p.stage.name}\` trains on batches of ${p.stage.batchSize} at ${spec.dataset.image.size.join('×')}, which need about ${(p.needBytes / 2 ** 30).toFixed(1)} GiB; the wasm backend's heap holds 4 GiB`,
        hint: p.largest > 0 ? `the largest batch that fits is ${p.largest}: set \`batchSize: ${p.largest}\` on this stage, or use smaller images or fewer unfrozen layers` : 'use smaller images or fewer unfrozen layers',
      });
    });
    if (tooLarge.length > 0) {
      prepared.value.base.dispose();
      return { ok: false, diagnostics: tooLarge };
    }
  }
  return { ok: true, loaded: loaded.value, prepared: prepared.value, plan: plan.value, warnings: [...loaded.warnings, ...plan.warnings.map((d) => source.locate(d))] };
}

/**
 * `tlpipe run`: plan, create the run directory, execute, record. The run's
 * status is `completed` only after every output is written; any failure
 * marks it `failed` (or `interrupted`) with the reason. With `resume`, the
 * newest unfinished run of the same plan continues instead, if there is one.
 */
export async function runPipeline(file: string, options: RunOptions & { resume?: boolean }): Promise<Outcome> {
  const planned = await planPipeline(file, { runsRoot: options.runsRoot, ...(options.backend ? { backend: options.backend } : {}) });
  if (!planned.ok) return { kind: 'invalid', diagnostics: planned.diagnostics };
  const { loaded, prepared, plan } = planned;
  const { spec, source } = loaded;
  for (const warning of planned.warnings) options.print(formatDiagnostic(warning));

  if (options.resume) {
    const unfinished = await findResumableRun(options.runsRoot, spec.name, plan.fingerprint);
    if (unfinished) {
      prepared.base.dispose();
      return resumeRun(unfinished, options);
    }
    options.print(`no unfinished run of this plan in ${path.relative(process.cwd(), options.runsRoot) || '.'} to resume; starting a new run`);
  }
  const run = await RunDirectory.create({
    runsRoot: options.runsRoot,
    pipeline: spec.name,
    pipelineFile: spec.file,
    fingerprint: plan.fingerprint,
    seed: spec.seed,
  });
  await run.writeJson('resolved.json', spec);
  await run.writeJson('plan.json', plan);
  await run.update({
    backend: prepared.backend.name,
    ...(prepared.download ? { download: { url: prepared.download.url, sha256: prepared.download.sha256 } } : {}),
    ...(spec.base.run ? { upstream: { pipeline: spec.base.run.pipeline, run: spec.base.run.id!, fingerprint: spec.base.run.fingerprint! } } : {}),
    ...(plan.strategy ? { strategy: { requested: plan.strategy.requested, chosen: plan.strategy.chosen, ...(plan.strategy.measurement ? { decision: plan.strategy.measurement.sentence } : {}) } } : {}),
  });
  options.print(`run ${path.relative(process.cwd(), run.dir)}`);
  return executeRun(run, { spec, source, prepared, plan }, options, false);
}

/**
 * `tlpipe resume <run-dir>`: continues an interrupted or failed run from its
 * latest complete checkpoint, in the same directory, with the pipeline as
 * that run resolved it. The inputs must still give the same plan.
 */
export async function resumeRun(dir: string, options: RunOptions): Promise<Outcome> {
  const invalid = (message: string, hint?: string): Outcome => ({ kind: 'invalid', diagnostics: [{ file: dir, path: [], severity: 'error', message, ...(hint ? { hint } : {}) }] });
  const opened = await RunDirectory.open(dir).catch((error: Error) => error);
  if (opened instanceof Error) return invalid(`${dir} is not a run directory: ${opened.message}`, 'pass a folder such as runs/<pipeline>/0003-1a2b3c4d');
  const run = opened;
  const record = run.record;
  if (record.status === 'completed') return invalid(`run ${record.pipeline}/${record.id} has already completed`, 'start a new run with `tlpipe run`');
  if (record.status === 'running' && isAlive(record.pid)) return invalid(`run ${record.pipeline}/${record.id} is still running (pid ${record.pid})`, 'stop it first (Ctrl-C or kill the process), then resume');
  // Without a complete checkpoint the run starts over from its first epoch, in the same directory.
  const lastEpoch = (await run.latestCheckpointEpoch()) ?? 0;

  // The pipeline exactly as the run resolved it, with absolute paths; its source is the run's copy.
  const spec = JSON.parse(await readFile(run.path('resolved.json'), 'utf8')) as PipelineSpec;
  const loaded = loadPipeline(run.path('pipeline.yaml'));
  const source = loaded.ok ? loaded.value.source : undefined;
  const backend = options.backend ?? (record.backend as BackendName | null) ?? spec.backend;
  const prepared = await prepareInputs(spec, { backend });
  if (!prepared.ok) return { kind: 'invalid', diagnostics: prepared.diagnostics.map((d) => source?.locate(d) ?? d) };
  const compiled = compilePlan(spec, prepared.value.planInputs);
  if (!compiled.ok || compiled.value.fingerprint !== record.fingerprint) {
    prepared.value.base.dispose();
    return invalid(
      `the inputs of run ${record.pipeline}/${record.id} changed since it started (plan ${record.fingerprint.slice(0, 8)}, now ${compiled.ok ? compiled.value.fingerprint.slice(0, 8) : 'invalid'})`,
      'resume needs the same dataset and base; start a new run with `tlpipe run`',
    );
  }
  await run.truncateMetrics(lastEpoch);
  await run.resumed(lastEpoch);
  await run.appendLog(`${new Date().toISOString()} resumed from epoch ${lastEpoch} by pid ${process.pid}`);
  options.print(`resuming ${path.relative(process.cwd(), run.dir) || run.dir} ${lastEpoch > 0 ? `from epoch ${lastEpoch}` : 'from the start (it died before its first checkpoint)'}`);
  return executeRun(run, { spec, source, prepared: prepared.value, plan: compiled.value }, options, true);
}

async function findResumableRun(runsRoot: string, pipeline: string, fingerprint: string): Promise<string | undefined> {
  const runs = await listRuns(runsRoot, pipeline);
  for (const { dir, record } of runs) {
    if (record.fingerprint !== fingerprint) continue;
    if (record.status === 'completed' || (record.status === 'running' && isAlive(record.pid))) continue;
    return dir;
  }
  return undefined;
}

/** Executes a planned run into its directory and records how it ended. */
async function executeRun(
  run: RunDirectory,
  planned: { spec: PipelineSpec; source: SourceFile | undefined; prepared: PreparedInputs; plan: Plan },
  options: RunOptions,
  resume: boolean,
): Promise<Outcome> {
  const { spec, source, prepared, plan } = planned;
  const started = Date.now();
  run.startHeartbeat();
  const renderer = makeRenderer(options, plan);
  // Store writes are chained so metrics lines land in event order.
  let recording: Promise<void> = Promise.resolve();
  const recordEvent = (event: EngineEvent): void => {
    const line = formatEventLine(event);
    recording = recording
      .then(async () => {
        if (event.type === 'epoch-end') await run.appendJsonLine('metrics.jsonl', event.metrics);
        if (event.type === 'baseline-epoch-end') await run.appendJsonLine('baseline-metrics.jsonl', event.metrics);
        if (line !== undefined) await run.appendLog(`${new Date().toISOString()} ${line}`);
      });
  };
  const onEvent = (event: EngineEvent): void => {
    recordEvent(event);
    renderer.listener(event);
  };

  try {
    const cache = options.noCache ? undefined : new StageCacheFiles(path.join(options.runsRoot, '.cache'));
    const result = await executePlan(plan, prepared, { onEvent, signal: options.signal, output: run, resume, ...(cache ? { cache } : {}) });
    await recording;
    const summary = {
      status: 'completed',
      pipeline: spec.name,
      run: run.id,
      backend: result.backend,
      classes: plan.classes.names,
      data: result.data,
      stages: result.stages,
      ...(result.test ? { test: result.test } : {}),
      ...(result.baseline ? { baseline: { kind: 'scratch', stages: result.baseline.stages, ...(result.baseline.test ? { test: result.baseline.test } : {}) } } : {}),
      ...(plan.strategy?.measurement ? { strategy: plan.strategy.measurement } : {}),
      export: result.export,
      // Peak resident memory of the whole process, for sizing machines and checking streaming stays bounded.
      resources: { peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), seconds: (Date.now() - started) / 1000 },
    };
    await run.writeJson('summary.json', summary);
    if (result.test) await run.writeFile('confusion-matrix.csv', confusionMatrixCsv(result.test.confusionMatrix, plan.classes.names));
    await run.writeFile('report.html', await singleRunReport(await overviewOf(run.dir, run.record), await readMetrics(run)));
    await renderer.close();
    const finished = await run.finish('completed');
    return { kind: 'ran', run: finished, dir: run.dir, diagnostics: [] };
  } catch (thrown) {
    await recording.catch(() => undefined);
    // A full disk or an exhausted heap is the machine's state, not a bug: say so, and how to go on.
    const error = diskError(thrown, run.dir) ?? heapError(thrown, prepared.backend.name) ?? thrown;
    await renderer.close(error as Error);
    const stamp = new Date().toISOString();
    if (error instanceof RunInterrupted) {
      await run.appendLog(`${stamp} interrupted`);
      const finished = await run.finish('interrupted', { message: 'interrupted by a signal; checkpoints so far are kept' });
      return { kind: 'ran', run: finished, dir: run.dir, diagnostics: [] };
    }
    if (error instanceof UserError) {
      await run.appendLog(`${stamp} failed: ${error.message}`).catch(() => undefined);
      const finished = await run.finish('failed', { message: error.message, ...(error.hint ? { hint: error.hint } : {}) });
      const diagnostic = error.toDiagnostic(spec.file);
      return { kind: 'ran', run: finished, dir: run.dir, diagnostics: [source?.locate(diagnostic) ?? diagnostic] };
    }
    // A bug, not a user error: keep the stack in the log and the reason in run.json.
    await run.appendLog(`${stamp} internal error: ${(error as Error).stack ?? String(error)}`).catch(() => undefined);
    await run.finish('failed', { message: `internal error: ${(error as Error).message}` });
    throw error;
  } finally {
    prepared.base.dispose();
  }
}

function makeRenderer(options: RunOptions, plan: Plan): ProgressRenderer {
  switch (options.progress) {
    case 'tty':
      return listrRenderer(plan);
    case 'json':
      return jsonRenderer((line) => process.stdout.write(line + '\n'));
    case 'quiet':
      return { listener: () => undefined, close: async () => undefined };
    case 'plain':
      return plainRenderer(options.print);
  }
}

/** Errors of the disk under the run folder, as user errors that name the file and the way on. */
function diskError(error: unknown, runDir: string): UserError | undefined {
  const e = error as NodeJS.ErrnoException;
  const reasons: Record<string, string> = { ENOSPC: 'no space left on the device', EDQUOT: 'the disk quota is used up', EROFS: 'the file system is read-only', EIO: 'the disk reported an I/O error' };
  const reason = e?.code ? reasons[e.code] : undefined;
  if (!reason) return undefined;
  const where = e.path ? ` writing ${path.relative(process.cwd(), e.path) || e.path}` : '';
  return new UserError(`${reason}${where}`, [], `free space (old checkpoints, runs/.cache) and continue with \`tlpipe resume ${path.relative(process.cwd(), runDir) || runDir}\``);
}

/**
 * The wasm backend reports an exhausted 4 GiB heap as a bare `Aborted()` or
 * an out-of-bounds access; the plan's estimate should prevent it, and if it
 * does not, this says what happened instead of printing a stack.
 */
function heapError(error: unknown, backend: string): UserError | undefined {
  const message = (error as Error)?.message ?? '';
  if (backend !== 'wasm' || !((error as Error)?.name === 'RuntimeError' || /^Aborted\(|memory access out of bounds|Cannot enlarge memory/.test(message))) return undefined;
  return new UserError(`the wasm backend ran out of memory (its heap holds 4 GiB): ${message.split('.')[0]}`, [], 'lower the batch size of the stage that was running, use smaller images, or unfreeze fewer layers');
}

async function readMetrics(run: RunDirectory): Promise<Parameters<typeof singleRunReport>[1]> {
  return (await readFile(run.path('metrics.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Parameters<typeof singleRunReport>[1][number]);
}
