import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { renderComparisonReport, renderReport } from '../store/report-html.js';
import { listPipelines, listRuns, resolveRunRef } from '../store/find-run.js';
import { overviewOf, type RunOverview } from '../store/run-status.js';
import { compareRuns, formatComparison } from './compare-runs.js';
import { alignColumns } from './text-table.js';

export type CommandResult = { ok: true; text: string } | { ok: false; message: string; hint?: string };

/** Every run (of one pipeline, or of all), newest first. */
export async function listRunOverviews(runsRoot: string, pipeline?: string): Promise<RunOverview[]> {
  const pipelines = pipeline ? [pipeline] : await listPipelines(runsRoot);
  const runs = (await Promise.all(pipelines.map((p) => listRuns(runsRoot, p)))).flat();
  const overviews = await Promise.all(runs.map(({ dir, record }) => overviewOf(dir, record)));
  return overviews.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id));
}

/** `tlpipe runs`: one line per run. */
export function formatRunTable(runs: RunOverview[]): string {
  if (runs.length === 0) return 'no runs yet';
  const header = ['run', 'status', 'started', 'seconds', 'backend', 'best', 'test acc', 'git'];
  const rows = runs.map((r) => [
    `${r.pipeline}/${r.id}`,
    r.status,
    r.startedAt.replace('T', ' ').slice(0, 19),
    r.seconds === null ? '–' : r.seconds.toFixed(1),
    r.backend ?? '–',
    r.best ? `${r.best.metric} ${r.best.value.toFixed(4)} @${r.best.epoch}` : '–',
    r.testAccuracy === null ? '–' : r.testAccuracy.toFixed(4),
    r.git ? `${r.git.commit.slice(0, 8)}${r.git.dirty ? '*' : ''}` : '–',
  ]);
  return alignColumns([header, ...rows]).join('\n');
}

async function overviewsOf(runsRoot: string, refs: string[]): Promise<RunOverview[] | { message: string; hint: string }> {
  const overviews: RunOverview[] = [];
  for (const ref of refs) {
    const found = await resolveRunRef(runsRoot, ref);
    if (!found.ok) return found;
    overviews.push(await overviewOf(found.dir, found.record));
  }
  return overviews;
}

/** `tlpipe compare`: config and metric differences, as text or JSON. */
export async function compareCommandText(runsRoot: string, refs: string[], json: boolean): Promise<CommandResult> {
  const runs = await overviewsOf(runsRoot, refs);
  if (!Array.isArray(runs)) return { ok: false, ...runs };
  const comparison = await compareRuns(runs);
  return { ok: true, text: json ? JSON.stringify(comparison, null, 2) : formatComparison(comparison) };
}

/**
 * `tlpipe report`: for one run, its report.html rebuilt in place; for
 * several, a comparison page written to `out`.
 */
export async function reportCommandFile(runsRoot: string, refs: string[], out: string | undefined, write: (file: string, html: string) => Promise<void>): Promise<CommandResult> {
  const runs = await overviewsOf(runsRoot, refs);
  if (!Array.isArray(runs)) return { ok: false, ...runs };
  const metricsOf = async (dir: string) =>
    (await readFile(path.join(dir, 'metrics.jsonl'), 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Parameters<typeof renderReport>[0]['metrics'][number]);
  if (runs.length === 1) {
    const run = runs[0]!;
    const file = out ?? path.join(run.dir, 'report.html');
    await write(file, await singleRunReport(run, await metricsOf(run.dir)));
    return { ok: true, text: file };
  }
  const comparison = await compareRuns(runs);
  const header = ['', ...comparison.runs.map((r) => `${r.pipeline}/${r.id}`)];
  const num = (v: number | null): string => (v === null ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(4));
  const rows = [
    ['status', ...comparison.runs.map((r) => r.status)],
    ['test accuracy', ...comparison.runs.map((r) => num(r.testAccuracy))],
    ['seconds', ...comparison.runs.map((r) => num(r.seconds))],
    ...comparison.stages.map((s) => [`${s.stage} ${s.metric}`, ...s.values.map(num)]),
    ...comparison.config.map((d) => [d.path, ...d.values.map((v) => (v === undefined ? '–' : JSON.stringify(v)))]),
  ];
  const compared = await Promise.all(runs.map(async (r) => ({ label: `${r.pipeline}/${r.id}`, metrics: await metricsOf(r.dir) })));
  const file = out ?? 'compare.html';
  await write(file, renderComparisonReport(`tlpipe: ${runs.map((r) => `${r.pipeline}/${r.id}`).join(' vs ')}`, compared, { header, rows }));
  return { ok: true, text: file };
}

/** The report a run writes when it completes, from its files alone. */
export async function singleRunReport(run: RunOverview, metrics: Parameters<typeof renderReport>[0]['metrics']): Promise<string> {
  const read = (file: string): Promise<string> => readFile(path.join(run.dir, file), 'utf8');
  const plan = JSON.parse(await read('plan.json')) as { pipeline: string; fingerprint: string; seed: number; classes: { names: string[] }; base: { model: string; cut: string } };
  const summary = JSON.parse(await read('summary.json').catch(() => '{}')) as { status?: string; test?: Parameters<typeof renderReport>[0]['test']; baseline?: { test?: { accuracy: number; loss: number } } };
  const baselineMetrics = (await read('baseline-metrics.jsonl').catch(() => '')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Parameters<typeof renderReport>[0]['metrics'][number]);
  const { record } = run;
  return renderReport({
    title: `${plan.pipeline} — run ${record.id}`,
    run: {
      run: record.id, status: summary.status ?? run.status, started: record.startedAt, backend: record.backend, base: `${plan.base.model} @ ${plan.base.cut}`,
      plan: plan.fingerprint, seed: plan.seed, git: record.git ? `${record.git.commit.slice(0, 12)}${record.git.branch ? ` (${record.git.branch})` : ''}${record.git.dirty ? ', uncommitted changes' : ''}` : 'not in git',
      versions: record.versions,
      ...(record.strategy ? { strategy: record.strategy.decision ?? record.strategy.chosen } : {}),
    },
    metrics,
    ...(baselineMetrics.length > 0 ? { baseline: { metrics: baselineMetrics, ...(summary.baseline?.test ? { test: summary.baseline.test } : {}) } } : {}),
    ...(summary.test ? { test: summary.test } : {}),
    classNames: plan.classes.names,
    pipelineYaml: await read('pipeline.yaml'),
  });
}
