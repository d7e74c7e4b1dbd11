import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { CheckpointEntry, CheckpointIndex } from '../engine/train/checkpoints.js';
import { readBackJson } from '../platform/read-back.js';
import { writeJsonAtomic } from './atomic-write.js';

/** checkpoints/index.json: the commit point of every checkpoint, rewritten after each one is complete. */
export const CHECKPOINT_INDEX = 'checkpoints/index.json';

/** An index names a few checkpoints; a megabyte is far beyond any tlpipe writes. */
const INDEX_MAX_BYTES = 2 ** 20;
const MAX_EPOCH = 999_999;
const MAX_KEPT = 10_000;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * One entry checked field by field. Its folder must be exactly
 * checkpoints/epoch-NNN of its own epoch: the index is read back, and a
 * `dir` of `../../elsewhere` would otherwise lead the resume out of the run folder.
 */
function entryProblem(value: unknown, field: string): string | undefined {
  if (!isRecord(value)) return `${field} is not a checkpoint entry`;
  const { dir, epoch, stage } = value;
  if (!Number.isSafeInteger(epoch) || (epoch as number) < 1 || (epoch as number) > MAX_EPOCH)
    return `${field}.epoch is ${JSON.stringify(epoch)}, not an epoch number`;
  const expected = `checkpoints/epoch-${String(epoch).padStart(3, '0')}`;
  if (dir !== expected) return `${field}.dir is ${JSON.stringify(dir)}, not ${expected}`;
  if (typeof stage !== 'string' || stage === '' || stage.length > 128) return `${field}.stage is not a stage name`;
  return undefined;
}

/** Why a parsed index is not one tlpipe wrote, or nothing. */
export function checkpointIndexProblem(value: unknown): string | undefined {
  if (!isRecord(value) || value['formatVersion'] !== 1) return 'it is not a checkpoint index tlpipe wrote';
  const { latest, best, stageBest, kept } = value;
  for (const [field, entry] of [
    ['latest', latest],
    ['stageBest', stageBest],
  ] as const) {
    if (entry !== null) {
      const problem = entryProblem(entry, field);
      if (problem) return problem;
    }
  }
  if (best !== null) {
    const problem = entryProblem(best, 'best');
    if (problem) return problem;
    const { monitor, value: monitored } = best as Record<string, unknown>;
    if (typeof monitor !== 'string' || typeof monitored !== 'number' || !Number.isFinite(monitored))
      return 'best has no monitor or value';
  }
  if (!Array.isArray(kept) || kept.length > MAX_KEPT) return 'kept is not a list of checkpoints';
  for (const [i, entry] of kept.entries()) {
    const problem = entryProblem(entry, `kept[${i}]`);
    if (problem) return problem;
  }
  if (latest !== null && !kept.some((c: CheckpointEntry) => c.dir === (latest as CheckpointEntry).dir))
    return 'latest is not among the kept checkpoints';
  return undefined;
}

/**
 * The run's checkpoint index: none when it has none yet; a problem instead
 * when it is damaged, not a regular file (a FIFO, a link to /dev/zero),
 * too big, or names a folder it should not (the engine then rebuilds it
 * from the intact checkpoint folders). A run folder that cannot be read at
 * all is the caller's error.
 */
export async function readCheckpointIndex(dir: string): Promise<{ index?: CheckpointIndex; problem?: string }> {
  let value: unknown;
  try {
    value = await readBackJson(dir, CHECKPOINT_INDEX, { what: 'checkpoint index', maxBytes: INDEX_MAX_BYTES });
  } catch (error) {
    if (error instanceof UserError) return { problem: error.message };
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  const problem = checkpointIndexProblem(value);
  return problem
    ? { problem: `checkpoint index ${path.join(dir, CHECKPOINT_INDEX)} is damaged: ${problem}` }
    : { index: value as CheckpointIndex };
}

export function writeCheckpointIndex(dir: string, index: CheckpointIndex): Promise<void> {
  return writeJsonAtomic(path.join(dir, CHECKPOINT_INDEX), index);
}
