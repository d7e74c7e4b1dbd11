import type { Result } from '../diagnostics/diagnostic.js';
import type { loadInputs } from '../engine/facts/read-inputs.js';
import type { Override } from '../format/load-pipeline.js';
import type { BackendName } from '../format/types.js';
import { loadInput } from './pipeline-input.js';
import { preparePlan, type PreparedPlan } from './prepare-plan.js';
import type { PipelineInput } from './types.js';

/** A task a variant computes, by fingerprint: equal fingerprints are computed once and shared through the stage cache. */
export interface VariantTask {
  id: string;
  fingerprint: string;
}

/**
 * The plan of one variant of a pipeline — a sweep's trial, a fold of a
 * k-fold run — planned without running: the file loaded with the variant's
 * overrides, its inputs read (through `readInputs`, which shares the reads
 * between variants), the plan compiled. Its base is disposed: only the plan
 * and the inputs' selection are wanted, and the tasks it would compute.
 */
export async function planVariant(
  input: PipelineInput,
  overrides: Override[],
  options: { runsRoot: string; readInputs: typeof loadInputs; backend?: BackendName },
): Promise<Result<Pick<PreparedPlan, 'plan' | 'inputs'> & { tasks: VariantTask[] }>> {
  const loaded = loadInput(input, { overrides });
  if (!loaded.ok) return loaded;
  const planned = await preparePlan(loaded.value, {
    runsRoot: options.runsRoot,
    readInputs: options.readInputs,
    ...(options.backend ? { backend: options.backend } : {}),
  });
  if (!planned.ok) return planned;
  planned.value.inputs.base.dispose();
  const { plan, inputs } = planned.value;
  const tasks = [
    ...plan.tasks.filter((t) => t.kind === 'features').map((t) => ({ id: t.id, fingerprint: t.fingerprint })),
    ...plan.stages.map((s) => ({ id: `stage ${s.name}`, fingerprint: s.fingerprint })),
  ];
  return { ok: true, value: { plan, inputs, tasks }, warnings: planned.warnings };
}
