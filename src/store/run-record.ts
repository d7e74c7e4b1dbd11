import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { packageRoot } from '../package/package-root.js';
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
  /** Each time `tlpipe resume` continued the run: when, from which epoch, in which process. */
  resumes?: { at: string; fromEpoch: number; pid: number }[];
}

/** A run folder's run.json; a missing or unreadable one is a user error naming the folder. */
export async function readRunRecord(dir: string): Promise<RunRecord> {
  const file = path.join(dir, RUN_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code === 'ENOENT' || code === 'ENOTDIR' ? `${dir} is not a run folder (it has no run.json)` : `cannot read ${file}: ${code ?? (error as Error).message}`, [], 'name a folder such as runs/<pipeline>/0003-1a2b3c4d, or <pipeline>/<NNNN>; `tlpipe runs` lists them');
  }
  try {
    return JSON.parse(text) as RunRecord;
  } catch {
    throw new UserError(`${file} is not valid JSON`, [], 'the run record is damaged; the run cannot be read or resumed');
  }
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
  return { tlpipe: read(path.join(packageRoot(), 'package.json')), tfjs: read('@tensorflow/tfjs/package.json'), node: process.versions.node };
}
