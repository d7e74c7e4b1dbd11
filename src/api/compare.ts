import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { loadPipelineText } from '../format/load-pipeline.js';
import { readBackFile } from '../platform/read-back.js';
import { PipelineFileSchema } from '../format/schema.js';
import { readMetricRows } from '../store/metrics-file.js';
import { readResolved } from '../store/plan-file.js';
import { PIPELINE_COPY } from '../store/run-folder.js';
import type { RunOverview } from '../store/run-status.js';
import { readSummary, type RunSummary } from '../store/summary-file.js';
import { testHeadline } from '../store/tasks/registry.js';
import type { EpochMetrics } from '../engine/events.js';

/** A value at a key path, as `train.stages[1].optimizer.learningRate`. */
type Flat = Map<string, unknown>;

/**
 * Every leaf of a JSON value by its key path. An array of scalars is one
 * leaf, and so is an empty object or array (`globalAveragePooling2d: {}`):
 * a value that is there must have a key path, or adding it would not show.
 */
export function flattenKeyPaths(value: unknown, prefix = '', out: Flat = new Map()): Flat {
  const entries =
    Array.isArray(value) && value.some((v) => typeof v === 'object' && v !== null)
      ? value.map((item, i) => [`${prefix}[${i}]`, item] as const)
      : typeof value === 'object' && value !== null && !Array.isArray(value)
        ? Object.entries(value).map(([key, v]) => [prefix ? `${prefix}.${key}` : key, v] as const)
        : undefined;
  if (entries === undefined || entries.length === 0) out.set(prefix, value);
  else for (const [keyPath, v] of entries) flattenKeyPaths(v, keyPath, out);
  return out;
}

/**
 * Every key path, down to its leaves, whose value differs between any of
 * the configurations, in first-seen order. A value one configuration lacks
 * (a key, or a whole stage, only another has) is `undefined` in its place,
 * so a stage only one run has is a row per key of that stage.
 */
export function configDifferences(configs: unknown[]): { path: string; values: unknown[] }[] {
  const flats = configs.map((c) => flattenKeyPaths(c));
  const paths = [...new Set(flats.flatMap((f) => [...f.keys()]))];
  const empty = (v: unknown): boolean =>
    v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
  // `limit: {}` beside `limit: { perClass: 8 }` is said by `limit.perClass`, not by a row of its own as well.
  const within = (p: string): boolean => paths.some((q) => q.startsWith(`${p}.`) || q.startsWith(`${p}[`));
  return paths
    .map((p) => ({ path: p, values: flats.map((f) => f.get(p)) }))
    .filter(({ values }) => values.some((v) => JSON.stringify(v) !== JSON.stringify(values[0])))
    .filter(({ path: p, values }) => !(values.every(empty) && within(p)));
}

/** `a.b[2].c` → ['a', 'b', 2, 'c']. */
function tokens(keyPath: string): (string | number)[] {
  return [...keyPath.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/** Per stage: the epochs it ran and its last epoch's metrics. */
export function stageEnds(rows: EpochMetrics[]): Map<string, EpochMetrics & { epochs: number }> {
  const ends = new Map<string, EpochMetrics & { epochs: number }>();
  for (const row of rows) ends.set(row.stage, { ...row, epochs: (ends.get(row.stage)?.epochs ?? 0) + 1 });
  return ends;
}

/** Where a run's configuration was read from: resolved.json, or its pipeline.yaml resolved again (resolved.json is not kept in git). */
export type ConfigSource = 'resolved.json' | 'pipeline.yaml' | 'missing';

export interface Comparison {
  runs: {
    pipeline: string;
    id: string;
    status: string;
    seconds: number | null;
    testAccuracy: number | null;
    testLoss: number | null;
    /** `task: anomaly` runs: the test AUROC (their accuracy is at the threshold, and they have no loss). */
    testAuroc?: number | null;
    /** `task: segmentation` runs: the test mean IoU (their accuracy is per pixel). */
    testMeanIoU?: number | null;
    config: ConfigSource;
  }[];
  /** Differences by key path; empty means identical only when `complete`. */
  config: { path: string; values: unknown[] }[];
  /** Every run's configuration could be read; otherwise `notes` say which could not and why. */
  complete: boolean;
  notes: string[];
  stages: { stage: string; metric: string; values: (number | null)[] }[];
}

const STAGE_METRICS = ['epochs', 'loss', 'accuracy', 'val_loss', 'val_accuracy'] as const;

/**
 * A run's configuration with every default filled in: its resolved.json,
 * or, in a clone where that file is not kept, its pipeline.yaml (the file as
 * it ran, overrides applied) resolved again. Paths that depend on where the
 * folder is are dropped: they are not how runs differ.
 */
async function configOf(
  run: RunOverview,
): Promise<{ config?: Record<string, unknown>; source: ConfigSource; note?: string }> {
  const resolved = await readResolved(run.dir).catch((error: unknown) =>
    error instanceof UserError ? error : Promise.reject(error),
  );
  if (resolved && !(resolved instanceof UserError))
    return { config: withoutLocation(resolved as unknown as Record<string, unknown>), source: 'resolved.json' };
  const why = resolved instanceof UserError ? `is damaged (${resolved.message})` : 'is missing';
  const text = await readBackFile(run.dir, PIPELINE_COPY, { what: 'pipeline copy', kind: 'text' }).then(
    (b) => b.toString('utf8'),
    () => undefined,
  );
  const loaded =
    text === undefined
      ? undefined
      : loadPipelineText(path.join(run.dir, PIPELINE_COPY), text, {
          displayName: `${run.pipeline}/${run.id}/${PIPELINE_COPY}`,
        });
  if (loaded?.ok)
    return {
      config: withoutLocation(loaded.value.spec as unknown as Record<string, unknown>),
      source: 'pipeline.yaml',
      note: `${run.pipeline}/${run.id}: resolved.json ${why}; compared its pipeline.yaml resolved again (defaults filled in by this version of tlpipe)`,
    };
  return {
    source: 'missing',
    note: `${run.pipeline}/${run.id}: neither resolved.json nor a valid pipeline.yaml, so its configuration is not compared`,
  };
}

/**
 * The configuration as a pipeline file writes it, so each key path printed
 * is one `--set` accepts: the file's location dropped (it is not how runs
 * differ), and head layers as written, `{ dense: { units } }`, where the
 * resolved spec has `{ type: 'dense', units }`.
 */
function withoutLocation(spec: Record<string, unknown>): Record<string, unknown> {
  const { file: _file, ...rest } = spec;
  if (!Array.isArray(rest['head'])) return rest;
  const asWritten = (layer: unknown): unknown => {
    if (!layer || typeof layer !== 'object' || typeof (layer as { type?: unknown }).type !== 'string') return layer;
    const { type, ...options } = layer as { type: string };
    return { [type]: options };
  };
  return { ...rest, head: rest['head'].map(asWritten) };
}

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
};
let pipelineSchema: JsonSchema | undefined;

/** Whether the pipeline file's schema has this key path, as `--set` requires; a value the resolver derives (a stage's base learning rate) has none. */
export function isSettable(keyPath: string): boolean {
  pipelineSchema ??= JSON.parse(JSON.stringify(PipelineFileSchema)) as JsonSchema;
  const within = (schema: JsonSchema | undefined, rest: (string | number)[]): boolean => {
    if (!schema) return false;
    if (rest.length === 0) return true;
    const choices = [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])];
    if (choices.some((c) => within(c, rest))) return true;
    const [first, ...next] = rest;
    if (typeof first === 'number') return within(schema.items, next);
    const property =
      schema.properties?.[first!] ??
      (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    return within(property, next);
  };
  return within(pipelineSchema, tokens(keyPath));
}

/** The config differences and the metrics side by side, per stage. */
export async function compareRuns(runs: RunOverview[]): Promise<Comparison> {
  const configs = await Promise.all(runs.map(configOf));
  const readable = configs.filter((c) => c.config !== undefined);
  const mixed = new Set(readable.map((c) => c.source)).size > 1;
  // A damaged file leaves its run's cells empty, and a note says which file and why; the other runs compare.
  const damage: string[] = [];
  const orNothing = <T>(run: RunOverview, read: Promise<T>, empty: T): Promise<T> =>
    read.catch((error: unknown) => {
      if (!(error instanceof UserError)) throw error;
      damage.push(`${run.pipeline}/${run.id}: ${error.message}; left out`);
      return empty;
    });
  const metrics = await Promise.all(runs.map(async (r) => stageEnds(await orNothing(r, readMetricRows(r.dir), []))));
  const summaries = await Promise.all(runs.map((r) => orNothing(r, readSummary(r.dir), undefined)));
  const stageNames = [...new Set(metrics.flatMap((m) => [...m.keys()]))];
  const notes = [...configs.flatMap((c) => (c.note ? [c.note] : [])), ...damage];
  if (mixed)
    notes.push(
      'some configurations come from resolved.json and some from pipeline.yaml; defaults of another tlpipe version may show as differences',
    );
  return {
    runs: runs.map((r, i) => ({
      pipeline: r.pipeline,
      id: r.id,
      status: r.status,
      seconds: r.seconds,
      testAccuracy: summaries[i]?.test?.accuracy ?? null,
      testLoss: summaries[i]?.test ? (testHeadline(summaries[i]!.test!).loss ?? null) : null,
      ...taskHeadline(summaries[i]?.test),
      config: configs[i]!.source,
    })),
    // A run whose configuration cannot be read is left out of the rows rather than counted as empty.
    // Only key paths `--set` accepts: a derived value differs only where one of those does, which is listed.
    config:
      readable.length >= 2
        ? spreadBack(
            configDifferences(readable.map((c) => c.config)).filter((row) => isSettable(row.path)),
            configs.map((c) => c.config !== undefined),
          )
        : [],
    complete: readable.length === runs.length,
    notes,
    stages: stageNames.flatMap((stage) =>
      STAGE_METRICS.map((metric) => ({
        stage,
        metric,
        values: metrics.map((m) => (m.get(stage)?.[metric] as number | undefined) ?? null),
      })),
    ),
  };
}

/** Differences computed over the readable runs, with a hole (undefined) for each run that was not. */
function spreadBack(
  rows: { path: string; values: unknown[] }[],
  readable: boolean[],
): { path: string; values: unknown[] }[] {
  return rows.map((row) => {
    let next = 0;
    return { path: row.path, values: readable.map((r) => (r ? row.values[next++] : undefined)) };
  });
}

/** The test numbers a run's task has beyond accuracy and loss, by the names a comparison gives them. */
function taskHeadline(test: RunSummary['test']): { testAuroc?: number | null; testMeanIoU?: number | null } {
  if (!test) return {};
  const { auroc, meanIoU } = testHeadline(test);
  return {
    ...('auroc' in test ? { testAuroc: auroc ?? null } : {}),
    ...('meanIoU' in test ? { testMeanIoU: meanIoU ?? null } : {}),
  };
}
