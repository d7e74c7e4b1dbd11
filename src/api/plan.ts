import type { EngineEvent } from '../engine/events.js';
import type { Plan } from '../plan/types.js';
import { loadInput, runsRootOf } from './pipeline-input.js';
import { failed, ok, type Outcome, type PipelineInput, type PipelineOptions } from './types.js';

/**
 * The compiled plan, without running: reads the data and the base (and for
 * `strategy: auto`, measures) to gather the facts the planner needs.
 */
export async function plan(
  input: PipelineInput,
  options: PipelineOptions & {
    /** Hears `strategy: auto`'s probe start and end, which take seconds. */ onEvent?: (event: EngineEvent) => void;
  } = {},
): Promise<Outcome<Plan>> {
  const loaded = loadInput(input, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  // The engine (tfjs, the readers of data and bases) loads once the pipeline is valid as written, as for run.
  const { preparePlan } = await import('./prepare-plan.js');
  const planned = await preparePlan(loaded.value, {
    runsRoot: runsRootOf(options),
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  if (!planned.ok) return failed(planned.diagnostics, loaded.warnings);
  planned.value.inputs.base.dispose();
  return ok(planned.value.plan, [...loaded.warnings, ...planned.warnings]);
}
