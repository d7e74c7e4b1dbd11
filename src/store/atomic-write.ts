import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { makeDirs } from '../platform/make-dirs.js';

/**
 * Writes a file so that readers see either the old content or the whole new
 * content, never a prefix: write a temporary file beside it, fsync, rename.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await makeDirs(path.dirname(file));
  const temporary = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    // Name the file meant, not the temporary one, in what the user reads.
    (error as NodeJS.ErrnoException).path = file;
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, file);
  } catch (error) {
    // A folder (or anything rename cannot replace) where the file goes: no temporary file is left behind.
    await rm(temporary, { force: true });
    (error as NodeJS.ErrnoException).path = file;
    throw error;
  }
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}
