import path from 'node:path';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { UserError } from '../diagnostics/user-error.js';
import type { AuditSettings } from '../engine/audit/audit-types.js';
import type { StageCache } from '../engine/cache/stage-cache.js';
import type { EngineEvent } from '../engine/events.js';
import type { RunInputs } from '../engine/facts/gather-facts.js';
import type { Plan } from '../plan/types.js';
import type { PipelineSpec } from '../format/types.js';
import { isNoBase } from '../format/rules.js';
import { isInside } from '../platform/read-back.js';
import { loadInput, runsRootOf } from './pipeline-input.js';
import {
  failed,
  interruptedEarly,
  ok,
  problem,
  type Cancellable,
  type Outcome,
  type PipelineInput,
  type PipelineOptions,
} from './types.js';
import type { StoredAudit } from '../store/audit-file.js';

export interface AuditOptions extends PipelineOptions, Cancellable {
  /** Stratified folds of the out-of-fold predictions (default 5). */
  folds?: number;
  /** Cosine similarity of two examples' features at or above which they are near-duplicates (default 0.995). */
  threshold?: number;
  /** Also write the suggested relabels and removals as CSV here (never into the dataset). */
  fix?: string;
  /** Extract the features afresh, ignoring (and not filling) the stage cache. */
  noCache?: boolean;
  /** The engine's events: features extracted or reused, warnings. */
  onEvent?: (event: EngineEvent) => void;
}

export interface AuditInfo {
  pipeline: string;
  /** runs/<pipeline>/audits/<NNNN>/ */
  dir: string;
  paths: { json: string; html: string; fix?: string };
  /** audit.json as written (examples named relative to the pipeline's folder). */
  audit: StoredAudit;
  /** Rows written to the --fix CSV. */
  fixes?: number;
}

/**
 * The data audit of a classification pipeline, written to
 * runs/<pipeline>/audits/<NNNN>/ (audit.json, audit.html) and, with `fix`,
 * a CSV of suggested relabels and removals. Findings are the value, not
 * failures: the outcome fails only when the audit could not run.
 */
export async function audit(input: PipelineInput, options: AuditOptions = {}): Promise<Outcome<AuditInfo>> {
  const loaded = loadInput(input, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  const { spec } = loaded.value;
  const refused = refusal(spec, options);
  if (refused) return failed([refused], loaded.warnings);
  const runsRoot = runsRootOf(options);
  const { preparePlanUnlessInterrupted } = await import('./prepare-plan.js');
  const { RunInterrupted } = await import('../engine/errors.js');
  const planned = await preparePlanUnlessInterrupted(loaded.value, {
    runsRoot,
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  if (planned === 'interrupted') return interruptedEarly(loaded.warnings);
  if (!planned.ok) return failed(planned.diagnostics, loaded.warnings);
  const warnings = [...loaded.warnings, ...planned.warnings];
  const { plan, inputs, source } = planned.value;
  const { auditData } = await import('../engine/audit/audit-data.js');
  const { StageCacheFiles } = await import('../store/stage-cache-files.js');
  const store = await import('../store/audit-file.js');
  const { renderAuditPage } = await import('../render/audit-report.js');
  const { fileSystemError } = await import('../store/disk-errors.js');
  const onEvent = options.onEvent ?? ((): void => undefined);
  try {
    const cache = options.noCache
      ? undefined
      : new StageCacheFiles(path.join(runsRoot, '.cache'), undefined, (message) =>
          onEvent({ type: 'log', level: 'warn', message }),
        );
    const settings: Partial<Omit<AuditSettings, 'seed'>> = {
      ...(options.folds !== undefined ? { folds: options.folds } : {}),
      ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
    };
    const output = await auditData(plan, inputs, settings, {
      onEvent,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(cache ? { cache } : {}),
    });
    const dir = await store.createAuditFolder(runsRoot, spec.name);
    const stored = await store.writeAudit(dir, output, path.dirname(spec.file));
    await store.writeAuditPage(dir, renderAuditPage(stored, spec.name));
    const paths: AuditInfo['paths'] = {
      json: path.join(dir, store.AUDIT_FILE),
      html: path.join(dir, store.AUDIT_PAGE),
    };
    let fixes: number | undefined;
    if (options.fix) {
      const { fixRows, writeFixCsv } = await import('../store/fix-file.js');
      const rows = fixRows(stored);
      await writeFixCsv(path.resolve(options.fix), rows);
      paths.fix = path.resolve(options.fix);
      fixes = rows.length;
    }
    return ok({ pipeline: spec.name, dir, paths, audit: stored, ...(fixes !== undefined ? { fixes } : {}) }, warnings);
  } catch (error) {
    if (error instanceof RunInterrupted) return interruptedEarly(warnings);
    if (error instanceof UserError) {
      const diagnostic = error.toDiagnostic(spec.file);
      return failed([source?.locate(diagnostic) ?? diagnostic], warnings);
    }
    const cause = fileSystemError(error, runsRoot);
    if (cause) return failed([cause.toDiagnostic(spec.file)], warnings);
    throw error;
  } finally {
    inputs.base.dispose();
  }
}

/**
 * `evaluate: { audit: true }`: the audit of a run's data into its folder
 * (audit.json, which report.html shows), before training, on the frozen
 * base as the plan has it — so its features go into the stage cache for
 * the run's own features task to reuse.
 */
export async function auditIntoRun(
  dir: string,
  planned: { plan: Plan; inputs: RunInputs; pipelineDir: string },
  options: { onEvent: (event: EngineEvent) => void; signal?: AbortSignal; cache?: StageCache },
): Promise<void> {
  const { auditData } = await import('../engine/audit/audit-data.js');
  const { writeAudit } = await import('../store/audit-file.js');
  const { headlineText } = await import('../render/audit-report.js');
  const output = await auditData(planned.plan, planned.inputs, {}, options);
  const stored = await writeAudit(dir, output, planned.pipelineDir);
  options.onEvent({
    type: 'log',
    level: 'info',
    message: `data audit (audit.json, report.html): ${headlineText(stored)}`,
  });
}

/** What the audit refuses before reading anything: another task, bad settings, a --fix path among the user's data. */
function refusal(spec: PipelineSpec, options: AuditOptions): Diagnostic | undefined {
  if (spec.task !== 'classification')
    return problem(
      spec.file,
      `the audit is for classification; this pipeline's task is ${spec.task}`,
      'audit a classification pipeline',
    );
  if (isNoBase(spec.base.model))
    return problem(
      spec.file,
      'the audit compares examples by the features of a base model, and this pipeline has none',
      'set base.model',
    );
  if (options.folds !== undefined && (!Number.isInteger(options.folds) || options.folds < 2 || options.folds > 20))
    return problem('--folds', `folds must be an integer from 2 to 20, got ${options.folds}`);
  if (options.threshold !== undefined && !(options.threshold > 0 && options.threshold <= 1))
    return problem(
      '--threshold',
      `the similarity threshold must be in (0, 1], got ${options.threshold}`,
      'e.g. --threshold 0.95',
    );
  if (options.fix !== undefined) {
    const target = path.resolve(options.fix);
    const theirs = datasetPaths(spec).find((p) => p === target || isInside(p, target));
    if (theirs || target === path.resolve(spec.file))
      return problem(
        '--fix',
        `--fix ${options.fix} would write into the pipeline's own files (${theirs ?? spec.file}); the audit never changes them`,
        'write the CSV elsewhere, e.g. --fix fixes.csv beside the pipeline',
      );
  }
  return undefined;
}

/** Every path the dataset names (files and folders), absolute. */
function datasetPaths(spec: PipelineSpec): string[] {
  const out: string[] = [];
  const visit = (value: unknown): void => {
    if (typeof value === 'string' && path.isAbsolute(value)) out.push(path.resolve(value));
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(spec.dataset);
  return out;
}
