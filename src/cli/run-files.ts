import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../engine/errors.js';

/** A JSON file of a run folder; a missing or broken one is a user error that says what to pass. */
export async function readRunJson<T>(runDir: string, relative: string): Promise<T> {
  const file = path.join(runDir, relative);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (error) {
    throw new UserError(
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} not found` : `${file}: ${(error as Error).message}`,
      [],
      'pass a completed run directory, e.g. runs/quickstart/0001-04643d3d',
    );
  }
}
