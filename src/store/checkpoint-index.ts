import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { CheckpointIndex } from '../engine/train/checkpoints.js';
import { writeJsonAtomic } from './atomic-write.js';

/** checkpoints/index.json: the commit point of every checkpoint, rewritten after each one is complete. */
export const CHECKPOINT_INDEX = 'checkpoints/index.json';

/** The run's checkpoint index, or undefined when it has none yet or it is damaged (the engine then rebuilds it from the checkpoint folders). */
export async function readCheckpointIndex(dir: string): Promise<CheckpointIndex | undefined> {
  const file = path.join(dir, CHECKPOINT_INDEX);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${file}: ${error.code ?? error.message}`, [], 'check the permissions of the run folder');
  });
  if (text === undefined) return undefined;
  try {
    const index = JSON.parse(text) as CheckpointIndex;
    return index && typeof index === 'object' && index.formatVersion === 1 ? index : undefined;
  } catch {
    return undefined;
  }
}

export function writeCheckpointIndex(dir: string, index: CheckpointIndex): Promise<void> {
  return writeJsonAtomic(path.join(dir, CHECKPOINT_INDEX), index);
}
