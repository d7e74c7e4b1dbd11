import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { packageRoot } from '../package/package-root.js';
import { readBackJson } from '../platform/read-back.js';
import { writeJsonAtomic } from './atomic-write.js';

export const RUN_FILE = 'run.json';

export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';

export interface GitState {
  commit: string;
  branch: string | null;
  /** Uncommitted changes anywhere in the repository (untracked files aside). */
  dirty: boolean;
  /** The pipeline file itself: unchanged, changed against HEAD, or not in git. */
  pipelineFile: 'clean' | 'modified' | 'untracked';
  /** `git diff HEAD` of the pipeline file when it is modified (cut at 64 KiB). */
  pipelineDiff?: string;
}

/** run.json: who ran what, where and when, and how it ended. */
export interface RunRecord {
  id: string;
  pipeline: string;
  status: RunStatus;
  pid: number;
  /**
   * The machine `pid` is a process of (os.hostname()), recorded when the run
   * starts and each time it resumes: a pid means nothing on another machine
   * sharing the runs folder. Absent in a run.json of an older tlpipe: this machine.
   */
  host?: string;
  startedAt: string;
  endedAt?: string;
  seconds?: number;
  fingerprint: string;
  seed: number;
  backend: string | null;
  git: GitState | null;
  versions: { tlpipe: string; tfjs: string; node: string };
  /** Values set from outside the file (`--set`, the API's overrides), by key path; pipeline.yaml has them applied. */
  overrides?: Record<string, unknown>;
  /** For a downloaded base: its address and the sha256 of what was downloaded. */
  download?: { url: string; sha256: string };
  /** For a run: base: the run whose exported model is this run's base. */
  upstream?: { pipeline: string; run: string; fingerprint: string };
  error?: { message: string; hint?: string };
  /** The strategy asked for and chosen; for auto, the decision in one sentence. */
  strategy?: { requested: string; chosen: string; decision?: string };
  /** Each time `tlpipe resume` continued the run: when, from which epoch, in which process on which machine. */
  resumes?: { at: string; fromEpoch: number; pid: number; host?: string }[];
}

/** A host name as run.json keeps it: Linux allows 64 bytes, POSIX 255; nothing longer is a host tlpipe recorded. */
export const HOST_MAX_CHARS = 255;
/** One or more characters, none of them a control character (which a listing would print). */
const HOST_PATTERN = new RegExp(`^[^\\u0000-\\u001f\\u007f]{1,${HOST_MAX_CHARS}}$`, 'u');

/** Whether `value` is a host name tlpipe could have recorded. */
export const isHostName = (value: unknown): value is string => typeof value === 'string' && HOST_PATTERN.test(value);

/** How long the run took, by run.json: its `seconds`, else from its start to its end; undefined while it has not ended. */
export function recordedSeconds(record: Pick<RunRecord, 'startedAt' | 'endedAt' | 'seconds'>): number | undefined {
  if (record.seconds !== undefined) return record.seconds;
  return record.endedAt === undefined ? undefined : (Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000;
}

/** This machine, as a run record (and a run lock) names it. */
export function thisHost(): string {
  return [...os.hostname()].slice(0, HOST_MAX_CHARS).join('') || 'localhost';
}

/** Whether the record's process ran on this machine: a record without a host was written by an older tlpipe, here. */
export const onThisHost = (record: { host?: string | undefined }): boolean =>
  record.host === undefined || record.host === thisHost();

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const STATUSES: readonly RunStatus[] = ['running', 'completed', 'failed', 'interrupted'];
/** run.json is a few kilobytes (a pipeline diff is cut at 64 KiB); a megabyte is far beyond what tlpipe writes. */
const RUN_FILE_MAX_BYTES = 2 ** 20;

/** The first of the record's object fields that holds something else. */
function notAnObject(value: Record<string, unknown>): string | undefined {
  const field = ['git', 'versions', 'overrides', 'download', 'upstream', 'strategy'].find(
    (f) => value[f] !== undefined && value[f] !== null && !isRecord(value[f]),
  );
  return field ? `${field} is not an object` : undefined;
}

/** The fields of `git` that listings and reports print, checked: null is a run outside git. */
function gitProblem(git: unknown): string | undefined {
  if (git === undefined || git === null) return undefined;
  const g = git as Record<string, unknown>;
  if (typeof g['commit'] !== 'string' || typeof g['dirty'] !== 'boolean') return 'git has no commit and dirty flag';
  if (g['branch'] !== undefined && g['branch'] !== null && typeof g['branch'] !== 'string')
    return 'git.branch is not a name';
  return undefined;
}

/** Why a parsed run.json is not a run record tlpipe wrote, field by field; nothing when it is one. */
export function runRecordProblem(value: unknown): string | undefined {
  if (!isRecord(value))
    return `it holds ${Array.isArray(value) ? 'a list' : value === null ? 'null' : `a ${typeof value}`}, not a run record`;
  const text = (field: string, pattern?: RegExp): string | undefined => {
    const v = value[field];
    return typeof v !== 'string' || (pattern && !pattern.test(v))
      ? `${field} is ${JSON.stringify(v) ?? 'missing'}`
      : undefined;
  };
  const problem =
    text('id', /^\d{4,}-[A-Za-z0-9]{1,64}$/) ??
    text('pipeline', /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/) ??
    text('startedAt') ??
    text('fingerprint', /^[A-Za-z0-9]{1,128}$/) ??
    (STATUSES.includes(value['status'] as RunStatus)
      ? undefined
      : `status is ${JSON.stringify(value['status']) ?? 'missing'}, not one of ${STATUSES.join(', ')}`) ??
    (Number.isSafeInteger(value['pid']) ? undefined : 'pid is not a process id') ??
    (value['host'] === undefined || isHostName(value['host'])
      ? undefined
      : `host is not a machine's name (1 to ${HOST_MAX_CHARS} characters, no control characters)`) ??
    (typeof value['seed'] === 'number' ? undefined : 'seed is not a number') ??
    (value['backend'] === null || typeof value['backend'] === 'string' ? undefined : 'backend is not a name') ??
    (value['endedAt'] === undefined || typeof value['endedAt'] === 'string' ? undefined : 'endedAt is not a time') ??
    (value['seconds'] === undefined || (typeof value['seconds'] === 'number' && Number.isFinite(value['seconds']))
      ? undefined
      : 'seconds is not a number') ??
    (value['error'] === undefined || (isRecord(value['error']) && typeof value['error']['message'] === 'string')
      ? undefined
      : 'error has no message') ??
    (value['resumes'] === undefined ||
    (Array.isArray(value['resumes']) &&
      value['resumes'].every(
        (r) =>
          isRecord(r) &&
          typeof r['at'] === 'string' &&
          Number.isSafeInteger(r['fromEpoch']) &&
          Number.isSafeInteger(r['pid']) &&
          (r['host'] === undefined || isHostName(r['host'])),
      ))
      ? undefined
      : 'resumes is not a list of resumes') ??
    notAnObject(value) ??
    gitProblem(value['git']) ??
    (value['versions'] === undefined ||
    Object.values(value['versions'] as Record<string, unknown>).every((v) => typeof v === 'string')
      ? undefined
      : 'versions holds something other than version strings');
  return problem;
}

/**
 * A run folder's run.json, read back like every file tlpipe left: a regular
 * file (a FIFO would block for ever, a link to /dev/zero never end) within a
 * size bound, JSON of a run record's shape. Anything else is a user error
 * naming the file and what is wrong, never a hang or a crash.
 */
export async function readRunRecord(dir: string): Promise<RunRecord> {
  const file = path.join(dir, RUN_FILE);
  const hint = 'the run record is damaged or was edited by hand; the run cannot be read or resumed';
  let value: unknown;
  try {
    value = await readBackJson(dir, RUN_FILE, { what: 'run record', maxBytes: RUN_FILE_MAX_BYTES, hint });
  } catch (error) {
    if (error instanceof UserError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT' || code === 'ENOTDIR'
        ? `${dir} is not a run folder (it has no run.json)`
        : `cannot read ${file}: ${code ?? (error as Error).message}`,
      [],
      'name a folder such as runs/<pipeline>/0003-1a2b3c4d, or <pipeline>/<NNNN>; `tlpipe runs` lists them',
    );
  }
  const problem = runRecordProblem(value);
  if (problem) throw new UserError(`run record ${file} is damaged: ${problem}`, [], hint);
  return value as RunRecord;
}

/**
 * Writes run.json whole. On a full disk the temporary copy cannot be
 * written, but run.json's own blocks can be overwritten: a run must be able
 * to record that it failed for lack of space.
 */
export async function writeRunRecord(dir: string, record: RunRecord): Promise<void> {
  try {
    await writeJsonAtomic(path.join(dir, RUN_FILE), record);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    await writeFile(path.join(dir, RUN_FILE), JSON.stringify(record, null, 2) + '\n');
  }
}

/** tlpipe's, tfjs's and Node's versions, as a run records them. */
export function versions(): RunRecord['versions'] {
  const require = createRequire(import.meta.url);
  const read = (file: string): string => (require(file) as { version: string }).version;
  return {
    tlpipe: read(path.join(packageRoot(), 'package.json')),
    tfjs: read('@tensorflow/tfjs/package.json'),
    node: process.versions.node,
  };
}
