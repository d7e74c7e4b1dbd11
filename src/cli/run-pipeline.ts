import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { RunInterrupted, UserError } from '../engine/errors.js';
import type { EngineEvent } from '../engine/events.js';
import { executePlan } from '../engine/execute-plan.js';
import { confusionMatrixCsv } from '../engine/metrics.js';
import { prepareInputs, type PreparedInputs } from '../engine/prepare-inputs.js';
import { compilePlan } from '../plan/compile-plan.js';
import type { Plan } from '../plan/types.js';
import { formatEventLine } from '../progress/event-lines.js';
import { jsonRenderer, listrRenderer, plainRenderer, type ProgressMode, type ProgressRenderer } from '../progress/renderers.js';
import { formatDiagnostic, type Diagnostic } from '../spec/diagnostics.js';
import { loadPipeline, type LoadedPipeline } from '../spec/load-pipeline.js';
import type { BackendName } from '../spec/types.js';
import { renderReport } from '../store/report-html.js';
import { findRun } from '../store/find-run.js';
import { RunDirectory, type RunRecord } from '../store/run-directory.js';

export interface RunOptions {
  runsRoot: string;
  backend?: BackendName;
  progress: ProgressMode;
  signal?: AbortSignal;
  /** Where human output goes (stderr for --json, so stdout stays machine-readable). */
  print: (line: string) => void;
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
  const plan = compilePlan(spec, prepared.value.planInputs);
  if (!plan.ok) {
    prepared.value.base.dispose();
    return { ok: false, diagnostics: plan.diagnostics.map((d) => source.locate(d)) };
  }
  return { ok: true, loaded: loaded.value, prepared: prepared.value, plan: plan.value, warnings: [...loaded.warnings, ...plan.warnings.map((d) => source.locate(d))] };
}

/**
 * `tlpipe run`: plan, create the run directory, execute, record. The run's
 * status is `completed` only after every output is written; any failure
 * marks it `failed` (or `interrupted`) with the reason.
 */
export async function runPipeline(file: string, options: RunOptions): Promise<Outcome> {
  const planned = await planPipeline(file, { runsRoot: options.runsRoot, ...(options.backend ? { backend: options.backend } : {}) });
  if (!planned.ok) return { kind: 'invalid', diagnostics: planned.diagnostics };
  const { loaded, prepared, plan } = planned;
  const { spec, source } = loaded;
  for (const warning of planned.warnings) options.print(formatDiagnostic(warning));

  const started = Date.now();
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
  });
  options.print(`run ${path.relative(process.cwd(), run.dir)}`);

  const renderer = makeRenderer(options, plan);
  // Store writes are chained so metrics lines land in event order.
  let recording: Promise<void> = Promise.resolve();
  const recordEvent = (event: EngineEvent): void => {
    const line = formatEventLine(event);
    recording = recording
      .then(async () => {
        if (event.type === 'epoch-end') await run.appendJsonLine('metrics.jsonl', event.metrics);
        if (line !== undefined) await run.appendLog(`${new Date().toISOString()} ${line}`);
      });
  };
  const onEvent = (event: EngineEvent): void => {
    recordEvent(event);
    renderer.listener(event);
  };

  try {
    const result = await executePlan(plan, prepared, { onEvent, signal: options.signal, output: run });
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
      export: result.export,
      // Peak resident memory of the whole process, for sizing machines and checking streaming stays bounded.
      resources: { peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), seconds: (Date.now() - started) / 1000 },
    };
    await run.writeJson('summary.json', summary);
    if (result.test) await run.writeFile('confusion-matrix.csv', confusionMatrixCsv(result.test.confusionMatrix, plan.classes.names));
    await run.writeFile('report.html', await buildReport(run, plan, summary));
    await renderer.close();
    const finished = await run.finish('completed');
    return { kind: 'ran', run: finished, dir: run.dir, diagnostics: [] };
  } catch (error) {
    await recording.catch(() => undefined);
    await renderer.close(error as Error);
    const stamp = new Date().toISOString();
    if (error instanceof RunInterrupted) {
      await run.appendLog(`${stamp} interrupted`);
      const finished = await run.finish('interrupted', { message: 'interrupted by a signal; checkpoints so far are kept' });
      return { kind: 'ran', run: finished, dir: run.dir, diagnostics: [] };
    }
    if (error instanceof UserError) {
      await run.appendLog(`${stamp} failed: ${error.message}`);
      const finished = await run.finish('failed', { message: error.message, ...(error.hint ? { hint: error.hint } : {}) });
      return { kind: 'ran', run: finished, dir: run.dir, diagnostics: [source.locate(error.toDiagnostic(spec.file))] };
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

async function buildReport(run: RunDirectory, plan: Plan, summary: { test?: Parameters<typeof renderReport>[0]['test'] } & Record<string, unknown>): Promise<string> {
  const metrics = (await readFile(run.path('metrics.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Parameters<typeof renderReport>[0]['metrics'][number]);
  return renderReport({
    title: `${plan.pipeline} — run ${run.id}`,
    run: { run: run.id, backend: summary['backend'], base: `${plan.base.model} @ ${plan.base.cut}`, plan: plan.fingerprint, seed: plan.seed },
    metrics,
    ...(summary.test ? { test: summary.test } : {}),
    classNames: plan.classes.names,
    pipelineYaml: await readFile(run.path('pipeline.yaml'), 'utf8'),
  });
}
