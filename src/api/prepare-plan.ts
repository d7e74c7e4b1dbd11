import path from 'node:path';
import type { Diagnostic, Result } from '../diagnostics/diagnostic.js';
import type { EventListener } from '../engine/events.js';
import { cutBase } from '../engine/facts/cut-base.js';
import { RunInterrupted } from '../engine/errors.js';
import { gatherFacts, type RunInputs } from '../engine/facts/gather-facts.js';
import { loadInputs, type LoadedInputs } from '../engine/facts/read-inputs.js';
import { probeStrategy } from '../engine/facts/strategy-probe.js';
import type { LoadedPipeline } from '../format/load-pipeline.js';
import type { SourceFile } from '../format/source-file.js';
import type { BackendName, PipelineSpec } from '../format/types.js';
import { compilePlan } from '../plan/compile-plan.js';
import { chooseStrategy } from '../plan/strategy.js';
import type { Plan, StrategyMeasurement } from '../plan/types.js';
import { findRun } from '../store/find-run.js';
import { MODEL_DIR } from '../store/model-folder.js';
import { setting } from '../platform/settings.js';

/** A pipeline ready to run: the spec as planned, its inputs read (the base built), and the plan. */
export interface PreparedPlan {
  spec: PipelineSpec;
  /** Where the spec came from, to place the engine's problems at their lines. */
  source: SourceFile | undefined;
  inputs: RunInputs;
  plan: Plan;
}

export interface PrepareOptions {
  backend?: BackendName;
  runsRoot: string;
  signal?: AbortSignal;
  /** Reads the inputs instead of loadInputs (a sweep reads the data once for its trials). */
  readInputs?: typeof loadInputs;
  /** Hears what takes long before a run starts: `strategy: auto`'s probe. */
  onEvent?: EventListener;
}

/**
 * Everything short of running, one way from the loaded file to the plan,
 * each step once and in the order the data flows: a `run:` base found in
 * the runs folder, the inputs read, for `strategy: auto` the probe measured
 * and the planner's choice filled in, then (planFromSpec) the base cut, the
 * facts gathered, the plan compiled. No step goes back to an earlier one:
 * the file is resolved and checked once, when it is loaded. Whoever gets
 * the value owns `inputs.base` and disposes it.
 */
export async function preparePlan(loaded: LoadedPipeline, options: PrepareOptions): Promise<Result<PreparedPlan>> {
  const { source } = loaded;
  const located = (diagnostics: Diagnostic[]): { ok: false; diagnostics: Diagnostic[] } => ({
    ok: false,
    diagnostics: diagnostics.map((d) => source.locate(d)),
  });
  const found = await withRunBase(loaded.spec, options.runsRoot);
  if (!found.ok) return located(found.diagnostics);
  const read = await (options.readInputs ?? loadInputs)(found.value, {
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (!read.ok) {
    // A backend the caller's option chose is the option's problem, not a line of the file (which may name no backend).
    const byOption = (d: Diagnostic): boolean =>
      options.backend !== undefined && d.path.length === 1 && d.path[0] === 'backend';
    return {
      ok: false,
      diagnostics: read.diagnostics.map((d) =>
        byOption(d) ? { ...d, file: `backend option '${options.backend}'` } : source.locate(d),
      ),
    };
  }
  const decided = await decideAuto(found.value, loaded, read.value, options.onEvent);
  return planFromSpec(decided.spec, read.value, source, decided.measurement);
}

/** A `run:` base is the exported model of an earlier run, found in the runs folder; other specs pass as they are. */
async function withRunBase(spec: PipelineSpec, runsRoot: string): Promise<Result<PipelineSpec>> {
  if (!spec.base.run) return { ok: true, value: spec, warnings: [] };
  const found = await findRun(runsRoot, spec.base.run.pipeline, spec.base.run.id);
  if (!found.ok)
    return {
      ok: false,
      diagnostics: [
        { file: spec.file, path: ['base', 'model'], message: found.message, hint: found.hint, severity: 'error' },
      ],
    };
  const base = {
    ...spec.base,
    file: path.join(found.dir, MODEL_DIR, 'model.json'),
    run: { ...spec.base.run, id: found.record.id, fingerprint: found.record.fingerprint },
  };
  return { ok: true, value: { ...spec, base }, warnings: [] };
}

/**
 * `strategy: auto`: the probe measured (engine), the strategy chosen and its
 * keys filled in (plan, from the choices the file was resolved with). Other
 * specs, and bases the probe cannot measure, pass as they are.
 */
async function decideAuto(
  spec: PipelineSpec,
  loaded: LoadedPipeline,
  read: LoadedInputs,
  onEvent?: EventListener,
): Promise<{ spec: PipelineSpec; measurement?: StrategyMeasurement }> {
  if (spec.strategy?.requested !== 'auto' || !loaded.strategyChoices) return { spec };
  const started = performance.now();
  const probe = await probeStrategy(spec, read, onEvent);
  if (!probe) return { spec };
  const { measurement, spec: chosen } = chooseStrategy(spec, loaded.strategyChoices, probe);
  onEvent?.({
    type: 'strategy-probe-end',
    chosen: measurement.chosen,
    decision: measurement.sentence,
    seconds: (performance.now() - started) / 1000,
  });
  return { spec: chosen, measurement };
}

/**
 * preparePlan for a command that stops cleanly when asked to while the data
 * is read: `'interrupted'` then (nothing was written yet), the plan or its
 * diagnostics otherwise.
 */
export async function preparePlanUnlessInterrupted(
  loaded: LoadedPipeline,
  options: PrepareOptions,
): Promise<Result<PreparedPlan> | 'interrupted'> {
  try {
    return await preparePlan(loaded, options);
  } catch (error) {
    if (error instanceof RunInterrupted) return 'interrupted';
    throw error;
  }
}

/**
 * The base cut at the spec's cut (where the cut is checked), the facts
 * gathered, the plan compiled: the end of preparePlan, and all of it for a
 * resumed run, whose spec is the one its run folder recorded.
 */
export async function planFromSpec(
  spec: PipelineSpec,
  read: LoadedInputs,
  source: SourceFile | undefined,
  strategy?: StrategyMeasurement,
): Promise<Result<PreparedPlan>> {
  const place = (d: Diagnostic): Diagnostic => source?.locate(d) ?? d;
  const cut = await cutBase(spec, read);
  if (!cut.ok) return { ok: false, diagnostics: cut.diagnostics.map(place) };
  // The cut base is the caller's only once the plan is: on any other way out it is disposed here.
  let handedOver = false;
  try {
    const inputs = gatherFacts(spec, read, cut.value, strategy);
    // TLPIPE_FROZEN_PREFIX=0 trains fine-tuning stages through the whole model, as tlpipe did before the prefix split (to compare).
    const compiled = compilePlan(spec, inputs.facts, { frozenPrefix: setting('TLPIPE_FROZEN_PREFIX') });
    if (!compiled.ok) return { ok: false, diagnostics: compiled.diagnostics.map(place) };
    handedOver = true;
    return { ok: true, value: { spec, source, inputs, plan: compiled.value }, warnings: compiled.warnings.map(place) };
  } finally {
    if (!handedOver) cut.value.base.dispose();
  }
}
