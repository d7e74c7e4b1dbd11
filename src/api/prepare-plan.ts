import type { Diagnostic, Result } from '../diagnostics/diagnostic.js';
import path from 'node:path';
import { gatherFacts, loadInputs, probeStrategy, type LoadedInputs, type RunInputs } from '../engine/facts/gather-facts.js';
import type { EventListener } from '../engine/events.js';
import { checkSpec, resolvePipeline, type LoadedPipeline } from '../format/load-pipeline.js';
import type { SourceFile } from '../format/source-file.js';
import type { BackendName, PipelineSpec } from '../format/types.js';
import { compilePlan } from '../plan/compile-plan.js';
import { decideFromProbe } from '../plan/strategy.js';
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

/**
 * Everything short of running, in the order the data flows: the spec (with
 * a `run:` base found in the runs folder), the inputs read, for `strategy:
 * auto` the probe measured and the decision made by the planner, the base
 * built at the cut the spec now names, the facts gathered, the plan
 * compiled. Whoever gets the value owns `inputs.base` and disposes it.
 */
export async function preparePlan(
  loaded: LoadedPipeline,
  options: {
    backend?: BackendName; runsRoot: string; signal?: AbortSignal;
    /** Reads the inputs instead of loadInputs (a sweep reads the data once for its trials). */ readInputs?: typeof loadInputs;
    /** Hears what takes long before a run starts: `strategy: auto`'s probe. */ onEvent?: EventListener;
  },
): Promise<Result<PreparedPlan>> {
  const { source } = loaded;
  const located = (diagnostics: Diagnostic[]): { ok: false; diagnostics: Diagnostic[] } => ({ ok: false, diagnostics: diagnostics.map((d) => source.locate(d)) });
  let spec = loaded.spec;
  if (spec.base.run) {
    // A run: base is the exported model of an earlier run, found in the runs folder.
    const found = await findRun(options.runsRoot, spec.base.run.pipeline, spec.base.run.id);
    if (!found.ok) return located([{ file: spec.file, path: ['base', 'model'], message: found.message, hint: found.hint, severity: 'error' }]);
    spec = { ...spec, base: { ...spec.base, file: path.join(found.dir, MODEL_DIR, 'model.json'), run: { ...spec.base.run, id: found.record.id, fingerprint: found.record.fingerprint } } };
  }
  const read = await (options.readInputs ?? loadInputs)(spec, { ...(options.backend ? { backend: options.backend } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  if (!read.ok) {
    // A backend the caller's option chose is the option's problem, not a line of the file (which may name no backend).
    const byOption = (d: Diagnostic): boolean => options.backend !== undefined && d.path.length === 1 && d.path[0] === 'backend';
    return { ok: false, diagnostics: read.diagnostics.map((d) => (byOption(d) ? { ...d, file: `backend option '${options.backend}'` } : source.locate(d))) };
  }
  let strategy: StrategyMeasurement | undefined;
  if (spec.strategy?.requested === 'auto') {
    const started = performance.now();
    const probe = await probeStrategy(spec, read.value, options.onEvent);
    if (probe) {
      strategy = decideFromProbe(probe);
      options.onEvent?.({ type: 'strategy-probe-end', chosen: strategy.chosen, decision: strategy.sentence, seconds: (performance.now() - started) / 1000 });
      // The file resolved again with the choice; written keys still win.
      spec = resolvePipeline(spec.file, loaded.written, { strategy: strategy.chosen, cut: strategy.cut });
      const checked = checkSpec(spec, source);
      if (checked.errors.length > 0) return { ok: false, diagnostics: checked.errors };
    }
  }
  return planFromSpec(spec, read.value, source, strategy);
}

/** The base built at the spec's cut, the facts gathered, the plan compiled; for a new run and for a resumed one. */
export async function planFromSpec(spec: PipelineSpec, read: LoadedInputs, source: SourceFile | undefined, strategy?: StrategyMeasurement): Promise<Result<PreparedPlan>> {
  const place = (d: Diagnostic): Diagnostic => source?.locate(d) ?? d;
  const gathered = await gatherFacts(spec, read, strategy);
  if (!gathered.ok) return { ok: false, diagnostics: gathered.diagnostics.map(place) };
  // TLPIPE_FROZEN_PREFIX=0 trains fine-tuning stages through the whole model, as tlpipe did before the prefix split (to compare).
  const compiled = compilePlan(spec, gathered.value.facts, { frozenPrefix: setting('TLPIPE_FROZEN_PREFIX') });
  if (!compiled.ok) {
    gathered.value.base.dispose();
    return { ok: false, diagnostics: compiled.diagnostics.map(place) };
  }
  return { ok: true, value: { spec, source, inputs: gathered.value, plan: compiled.value }, warnings: compiled.warnings.map(place) };
}
