import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { UserError } from '../diagnostics/user-error.js';
import { fileSystemError } from '../store/disk-errors.js';
import { readMetricRows } from '../store/metrics-file.js';
import { readSummary } from '../store/summary-file.js';
import { listPipelines, listRuns as runsOf, resolveRunRef } from '../store/find-run.js';
import { REPORT_FILE, writeComparisonReport, writeRunReport } from '../store/report-file.js';
import { renderComparisonReport } from '../render/report-html.js';
import { renderRunReport } from '../render/run-report.js';
import { overviewOf, type RunOverview } from '../store/run-status.js';
import { compareRuns, type Comparison } from './compare.js';
import { formatComparedNumber } from './compared-number.js';
import { runsRootOf } from './pipeline-input.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, problem, type Outcome, type PipelineOptions } from './types.js';

export type { Comparison } from './compare.js';
export type { RunOverview } from '../store/run-status.js';

/** Every run (of one pipeline, or of all), newest first, with its status as it really is (a killed run shows `interrupted`). A damaged run is a warning naming its file and why; the others are listed. */
export async function listRuns(
  options: Pick<PipelineOptions, 'runsDir'> & { pipeline?: string } = {},
): Promise<Outcome<RunOverview[]>> {
  const root = runsRootOf(options);
  const pipelines = options.pipeline ? [options.pipeline] : await listPipelines(root);
  const warnings: Diagnostic[] = [];
  const unreadable = (dir: string, why: string): void => void warnings.push(damagedRun(dir, `not listed: ${why}`));
  const runs = (await Promise.all(pipelines.map((p) => runsOf(root, p, unreadable)))).flat();
  const overviews = await Promise.all(runs.map(({ dir, record }) => overviewOf(dir, record)));
  for (const { dir } of runs)
    for (const why of await damageOf(dir)) warnings.push(damagedRun(dir, `listed without its scores: ${why}`));
  return ok(
    overviews.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id)),
    warnings,
  );
}

/** A warning about one run folder, at `<pipeline>/<run>`. */
function damagedRun(dir: string, message: string): Diagnostic {
  return {
    ...problem(
      `${path.basename(path.dirname(dir))}/${path.basename(dir)}`,
      message,
      'the run folder was damaged or edited by hand; restore the file (from git), or remove the run',
    ),
    severity: 'warning',
  };
}

/** What is wrong with the files a listing reads beyond run.json (its overview shows what it can without them). */
async function damageOf(dir: string): Promise<string[]> {
  const problems = await Promise.all(
    [readMetricRows(dir), readMetricRows(dir, 'baseline'), readSummary(dir)].map((read) =>
      read.then(() => undefined, messageOf),
    ),
  );
  return problems.filter((p): p is string => p !== undefined);
}

const messageOf = (error: unknown): string =>
  error instanceof UserError ? error.message : (fileSystemError(error)?.message ?? String(error));

async function overviewsOf(
  refs: readonly string[],
  options: Pick<PipelineOptions, 'runsDir'>,
): Promise<Outcome<RunOverview[]>> {
  const overviews: RunOverview[] = [];
  for (const ref of refs) {
    const found = await resolveRunRef(runsRootOf(options), ref);
    if (!found.ok) return failed([problem(ref, found.message, found.hint)]);
    overviews.push(await overviewOf(found.dir, found.record));
  }
  return ok(overviews);
}

/** What differs between runs: their configurations by key path, and their metrics per stage. */
export async function compare(
  refs: readonly string[],
  options: Pick<PipelineOptions, 'runsDir'> = {},
): Promise<Outcome<Comparison>> {
  const runs = await overviewsOf(refs, options);
  if (!runs.ok) return failed(runs.diagnostics);
  return ok(await compareRuns(runs.value));
}

/**
 * One run: its report.html rebuilt (in place, or at `out`). Several: one
 * comparison page at `out` (default compare.html) with their curves and
 * what differs.
 */
export async function report(
  refs: readonly string[],
  options: Pick<PipelineOptions, 'runsDir'> & { out?: string } = {},
): Promise<Outcome<{ file: string }>> {
  const runs = await overviewsOf(refs, options);
  if (!runs.ok) return failed(runs.diagnostics);
  const page = runs.value.length === 1 ? REPORT_FILE : 'compare.html';
  if (
    options.out !== undefined &&
    (await stat(options.out).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    return failed([
      problem(
        options.out,
        `--out ${options.out} is a folder; it names the page's file`,
        `name a file, such as ${path.join(options.out, page)}`,
      ),
    ]);
  }
  return userErrorsAt(refs.join(' '), async () => {
    if (runs.value.length === 1)
      return ok({
        file: await writeRunReport(
          runs.value[0]!.dir,
          renderRunReport,
          options.out ? path.resolve(options.out) : undefined,
        ),
      });
    const comparison = await compareRuns(runs.value);
    const header = ['', ...comparison.runs.map((r) => `${r.pipeline}/${r.id}`)];
    const testAccuracy = [
      'test accuracy',
      ...comparison.runs.map((r) => formatComparedNumber('accuracy', r.testAccuracy)),
    ];
    const metrics = {
      header,
      rows: [
        ['status', ...comparison.runs.map((r) => r.status)],
        testAccuracy,
        ['seconds', ...comparison.runs.map((r) => formatComparedNumber('seconds', r.seconds))],
        ...comparison.stages.map((s) => [
          `${s.stage} ${s.metric}`,
          ...s.values.map((v) => formatComparedNumber(s.metric, v)),
        ]),
      ],
    };
    // Each differing key beside the metric it led to.
    const config = {
      header,
      rows:
        comparison.config.length === 0
          ? []
          : [
              testAccuracy,
              ...comparison.config.map((d) => [
                d.path,
                ...d.values.map((v) => (v === undefined ? '–' : JSON.stringify(v))),
              ]),
            ],
    };
    const title = `tlpipe: ${runs.value.map((r) => `${r.pipeline}/${r.id}`).join(' vs ')}`;
    const file = await writeComparisonReport(
      path.resolve(options.out ?? page),
      runs.value.map((r) => ({ label: `${r.pipeline}/${r.id}`, dir: r.dir })),
      (compared) => renderComparisonReport(title, compared, { metrics, config }),
    );
    // What could not be read (a damaged file, a configuration not compared) is said, not just left blank.
    return ok(
      { file },
      comparison.notes.map((note) => ({ ...problem(refs.join(' '), note), severity: 'warning' as const })),
    );
  });
}
