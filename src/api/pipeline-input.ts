import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Result } from '../diagnostics/diagnostic.js';
import { loadPipeline, loadPipelineText, type LoadedPipeline, type Override } from '../format/load-pipeline.js';
import type { PipelineInput, PipelineOptions } from './types.js';

/** The overrides as the loader takes them, each with the label its problems are reported at. */
export function overrideList(overrides: PipelineOptions['overrides']): Override[] {
  if (!overrides) return [];
  const list: readonly (Omit<Override, 'label'> & { label?: string })[] = Array.isArray(overrides)
    ? overrides
    : Object.entries(overrides).map(([key, value]) => ({ path: key, value }));
  return list.map((o) => ({ ...o, label: o.label ?? `override ${o.path}=${JSON.stringify(o.value)}` }));
}

/** The overrides by key path, as run.json records them. */
export function overrideRecord(overrides: PipelineOptions['overrides']): Record<string, unknown> {
  return Object.fromEntries(overrideList(overrides).map((o) => [o.path, o.value]));
}

/** Loads a pipeline given as a file, YAML text or an object, with its overrides applied and validated. */
export function loadInput(input: PipelineInput, options: PipelineOptions = {}): Result<LoadedPipeline> {
  const overrides = overrideList(options.overrides);
  if (typeof input === 'string') return loadPipeline(input, { overrides });
  const file = path.resolve(input.path ?? 'pipeline.yaml');
  const text = 'yaml' in input ? input.yaml : stringify(input.pipeline);
  return loadPipelineText(file, text, {
    displayName: input.path ?? ('yaml' in input ? '<pipeline text>' : '<pipeline object>'),
    overrides,
  });
}

/** The runs folder, absolute. */
export const runsRootOf = (options: PipelineOptions): string => path.resolve(options.runsDir ?? 'runs');

/** The pipeline's file (absolute) and text as given, before any override: what a sweep hands each trial. */
export function inputSource(input: PipelineInput): { file: string; text: string } {
  if (typeof input === 'string') return { file: path.resolve(input), text: readFileSync(input, 'utf8') };
  return {
    file: path.resolve(input.path ?? 'pipeline.yaml'),
    text: 'yaml' in input ? input.yaml : stringify(input.pipeline),
  };
}

/** Whether the pipeline (with its overrides) asks for a k-fold run: `evaluate.folds` without `evaluate.fold`. Undefined when it does not load. */
export function foldsOf(input: PipelineInput, options: PipelineOptions = {}): number | undefined {
  const loaded = loadInput(input, options);
  if (!loaded.ok) return undefined;
  const { folds, fold } = loaded.value.spec.evaluate;
  return fold === undefined ? folds : undefined;
}
