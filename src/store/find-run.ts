import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { FOLDS_FILE } from './kfold-folder.js';
import { readRunRecord, RUN_FILE, type RunRecord } from './run-record.js';

export type FoundRun = { ok: true; dir: string; record: RunRecord } | { ok: false; message: string; hint: string };

/**
 * The run a `run:<pipeline>[/<id>]` reference names: the given one (by
 * number, with or without its fingerprint), or the newest completed run.
 */
export async function findRun(runsRoot: string, pipeline: string, id?: string): Promise<FoundRun> {
  const pipelineDir = path.join(runsRoot, pipeline);
  const names = await runNames(pipelineDir);
  const candidates = id ? names.filter((n) => n === id || n.startsWith(`${id}-`)) : names;
  for (const name of candidates) {
    const record = await readRunRecord(path.join(pipelineDir, name)).catch(() => undefined);
    if (record?.status === 'completed') return { ok: true, dir: path.join(pipelineDir, name), record };
    if (id && record)
      return {
        ok: false,
        message: `run ${pipeline}/${name} is ${record.status}, not completed`,
        hint: 'only a completed run has an exported model',
      };
  }
  return {
    ok: false,
    message: id ? `no run ${pipeline}/${id} in ${runsRoot}` : `no completed run of \`${pipeline}\` in ${runsRoot}`,
    hint: `run that pipeline first (tlpipe run <its file>), or pass --runs with the folder holding its runs`,
  };
}

/** `<NNNN>-<fp8>` folder names, highest number first: by number, since 10000 follows 9999 (runs and sweeps). */
export function newestFirst(names: string[]): string[] {
  return [...names].sort((a, b) => parseInt(b, 10) - parseInt(a, 10) || (a < b ? 1 : a > b ? -1 : 0));
}

/** Run folder names of one pipeline, newest first. */
async function runNames(pipelineDir: string): Promise<string[]> {
  return newestFirst(
    (await readdir(pipelineDir).catch(() => [] as string[])).filter((n) => /^\d{4,}-[0-9a-f]{8}$/.test(n)),
  );
}

/** Every readable run of one pipeline, newest first; `onUnreadable` hears of each run folder whose run.json cannot be read, and why. */
export async function listRuns(
  runsRoot: string,
  pipeline: string,
  onUnreadable?: (dir: string, why: string) => void,
): Promise<{ dir: string; record: RunRecord }[]> {
  const pipelineDir = path.join(runsRoot, pipeline);
  const runs: { dir: string; record: RunRecord }[] = [];
  for (const name of await runNames(pipelineDir)) {
    const dir = path.join(pipelineDir, name);
    const record = await readRunRecord(dir).catch(
      (error: unknown) => void onUnreadable?.(dir, (error as Error).message),
    );
    if (record) runs.push({ dir, record });
  }
  return runs;
}

/** The pipelines with runs in `runsRoot` (folders that are not tlpipe's own, such as .cache). */
export async function listPipelines(runsRoot: string): Promise<string[]> {
  const entries = await readdir(runsRoot, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

/**
 * A run named on the command line: a run folder's path, or `<pipeline>/<NNNN>[-<fp8>]`
 * (or `<pipeline>` for its newest run) inside `runsRoot`.
 */
export async function resolveRunRef(
  runsRoot: string,
  ref: string,
): Promise<{ ok: true; dir: string; record: RunRecord } | { ok: false; message: string; hint: string }> {
  const direct = await readRunRecord(ref).then(
    (record) => ({ dir: path.resolve(ref), record }),
    (error: unknown) => error as Error,
  );
  if (!(direct instanceof Error)) return { ok: true, ...direct };
  // A folder that has a run.json it cannot read is a damaged run, not an unknown name.
  if (
    await lstat(path.join(ref, RUN_FILE)).then(
      () => true,
      () => false,
    )
  )
    return { ok: false, message: direct.message, hint: 'the run folder is damaged; `tlpipe runs` lists the others' };
  const [pipeline, id] = ref.split('/') as [string, string | undefined];
  const unreadable: { dir: string; why: string }[] = [];
  const runs = await listRuns(runsRoot, pipeline, (dir, why) => unreadable.push({ dir, why }));
  const found = id ? runs.find((r) => r.record.id === id || r.record.id.startsWith(`${id}-`)) : runs[0];
  if (found) return { ok: true, ...found };
  const damaged = id
    ? unreadable.find((u) => path.basename(u.dir) === id || path.basename(u.dir).startsWith(`${id}-`))
    : undefined;
  if (damaged)
    return { ok: false, message: damaged.why, hint: 'the run folder is damaged; `tlpipe runs` lists the others' };
  // A k-fold run's folder is not a run: it trained no model of its own; each of its folds did.
  if (
    await lstat(path.join(ref, FOLDS_FILE)).then(
      () => true,
      () => false,
    )
  )
    return {
      ok: false,
      message: `${ref} is a k-fold cross-validation, which has no run or model of its own: each of its folds is a run with its own model`,
      hint: `name one of its folds' runs (its summary.json lists them: folds[].run), e.g. <pipeline>/<NNNN>`,
    };
  return {
    ok: false,
    message: `no run \`${ref}\` (not a run folder, nor a run in ${runsRoot})`,
    hint: 'name a run folder, or <pipeline>/<NNNN>; `tlpipe runs` lists them',
  };
}
