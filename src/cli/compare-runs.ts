import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunOverview } from '../store/run-status.js';
import { alignColumns } from './text-table.js';

/** A value at a key path, as `train.stages[1].optimizer.learningRate`. */
type Flat = Map<string, unknown>;

/** Every leaf of a JSON value by its key path; arrays of scalars are one leaf. */
export function flattenKeyPaths(value: unknown, prefix = '', out: Flat = new Map()): Flat {
  if (Array.isArray(value) && value.some((v) => typeof v === 'object' && v !== null)) {
    value.forEach((item, i) => flattenKeyPaths(item, `${prefix}[${i}]`, out));
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [key, v] of Object.entries(value)) flattenKeyPaths(v, prefix ? `${prefix}.${key}` : key, out);
  } else out.set(prefix, value);
  return out;
}

/**
 * Key paths whose values differ between any of the configurations, in
 * first-seen order. A subtree one run lacks entirely (a stage only one run
 * has) is one row, its whole value, not a row per leaf.
 */
export function configDifferences(configs: unknown[]): { path: string; values: unknown[] }[] {
  const flats = configs.map((c) => flattenKeyPaths(c));
  const paths = [...new Set(flats.flatMap((f) => [...f.keys()]))];
  const rows: { path: string; values: unknown[] }[] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    const values = flats.map((f) => f.get(p));
    if (!values.some((v) => JSON.stringify(v) !== JSON.stringify(values[0]))) continue;
    const top = values.includes(undefined) ? outermostMissing(configs, p) : p;
    if (seen.has(top)) continue;
    seen.add(top);
    rows.push({ path: top, values: top === p ? values : configs.map((c) => valueAt(c, top)) });
  }
  return rows;
}

/** `a.b[2].c` → ['a', 'b', 2, 'c']. */
function tokens(path: string): (string | number)[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

function valueAt(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const t of tokens(path)) at = at === null || typeof at !== 'object' ? undefined : (at as Record<string | number, unknown>)[t];
  return at;
}

/** The shortest prefix of `path` that some configuration lacks altogether. */
function outermostMissing(configs: unknown[], path: string): string {
  const parts = tokens(path);
  for (let n = 1; n <= parts.length; n++) {
    const prefix = parts.slice(0, n).map((t, i) => (typeof t === 'number' ? `[${t}]` : i === 0 ? t : `.${t}`)).join('');
    if (configs.some((c) => valueAt(c, prefix) === undefined)) return prefix;
  }
  return path;
}

interface EpochRow { stage: string; epoch: number; loss: number; accuracy: number; val_loss?: number; val_accuracy?: number; lr: number }

/** Per stage: the epochs it ran and its last epoch's metrics. */
export function stageEnds(rows: EpochRow[]): Map<string, EpochRow & { epochs: number }> {
  const ends = new Map<string, EpochRow & { epochs: number }>();
  for (const row of rows) ends.set(row.stage, { ...row, epochs: (ends.get(row.stage)?.epochs ?? 0) + 1 });
  return ends;
}

export interface Comparison {
  runs: { pipeline: string; id: string; status: string; seconds: number | null; testAccuracy: number | null; testLoss: number | null }[];
  config: { path: string; values: unknown[] }[];
  stages: { stage: string; metric: string; values: (number | null)[] }[];
}

const STAGE_METRICS = ['epochs', 'loss', 'accuracy', 'val_loss', 'val_accuracy'] as const;

/** The config differences (from each run's resolved.json) and the metrics side by side, per stage. */
export async function compareRuns(runs: RunOverview[]): Promise<Comparison> {
  const read = (dir: string, file: string): Promise<string> => readFile(path.join(dir, file), 'utf8').catch(() => '');
  const resolved = await Promise.all(runs.map(async (r) => {
    const spec = JSON.parse((await read(r.dir, 'resolved.json')) || '{}') as Record<string, unknown>;
    // Where the file lives is not how the run differs.
    delete spec['file'];
    return spec;
  }));
  const metrics = await Promise.all(runs.map(async (r) => stageEnds((await read(r.dir, 'metrics.jsonl')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as EpochRow))));
  const summaries = await Promise.all(runs.map(async (r) => JSON.parse((await read(r.dir, 'summary.json')) || '{}') as { test?: { accuracy: number; loss: number } }));
  const stageNames = [...new Set(metrics.flatMap((m) => [...m.keys()]))];
  return {
    runs: runs.map((r, i) => ({ pipeline: r.pipeline, id: r.id, status: r.status, seconds: r.seconds, testAccuracy: summaries[i]!.test?.accuracy ?? null, testLoss: summaries[i]!.test?.loss ?? null })),
    config: configDifferences(resolved),
    stages: stageNames.flatMap((stage) => STAGE_METRICS.map((metric) => ({ stage, metric, values: metrics.map((m) => (m.get(stage)?.[metric] as number | undefined) ?? null) }))),
  };
}

/** Text columns, one per run. */
export function formatComparison(c: Comparison): string {
  // Whole subtrees are cut short in the table; --json has them in full.
  const show = (v: unknown): string => {
    const text = v === undefined ? '–' : typeof v === 'number' ? String(Number(v.toPrecision(6))) : JSON.stringify(v);
    return text.length > 60 ? `${text.slice(0, 59)}…` : text;
  };
  const num = (v: number | null, digits = 4): string => (v === null ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(digits));
  const header = ['', ...c.runs.map((r) => `${r.pipeline}/${r.id}`)];
  const rows: string[][] = [
    ['status', ...c.runs.map((r) => r.status)],
    ['seconds', ...c.runs.map((r) => num(r.seconds, 1))],
    ['test accuracy', ...c.runs.map((r) => num(r.testAccuracy))],
    ['test loss', ...c.runs.map((r) => num(r.testLoss))],
  ];
  const stageRows = c.stages.map((s) => [`${s.stage} ${s.metric}`, ...s.values.map((v) => num(v))]);
  const configRows = c.config.map((d) => [d.path, ...d.values.map(show)]);
  const [headerLine, ...lines] = alignColumns([header, ...rows, ...stageRows, ...configRows]);
  const top = lines.slice(0, rows.length);
  const stageLines = lines.slice(rows.length, rows.length + stageRows.length);
  const configLines = lines.slice(rows.length + stageRows.length);
  return [
    headerLine!,
    ...top,
    '',
    'per stage (its last epoch):',
    ...stageLines,
    '',
    c.config.length > 0 ? `config differences (${c.config.length}):` : 'config: identical',
    ...configLines,
  ].join('\n');
}
