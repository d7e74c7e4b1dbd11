import type { PipelineSpec } from '../format/types.js';
import { loadInput } from './pipeline-input.js';
import { failed, ok, type Outcome, type PipelineInput, type PipelineOptions } from './types.js';

/** Checks a pipeline against the schema and the rules, with its overrides; the resolved spec (every default filled in) when it is valid. */
export async function validate(
  input: PipelineInput,
  options: Omit<PipelineOptions, 'runsDir' | 'backend'> = {},
): Promise<Outcome<PipelineSpec>> {
  const loaded = loadInput(input, options);
  return loaded.ok ? ok(loaded.value.spec, loaded.warnings) : failed(loaded.diagnostics);
}
