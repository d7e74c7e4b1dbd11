import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * `mkdir -p`, one folder at a time. Node's `mkdir(dir, { recursive: true })`
 * never returns for a folder under /proc (it retries ENOENT there forever,
 * on Node 20), so a `--runs` or `--out` pointed at such a place would hang
 * rather than fail; made one level at a time, every failure is an error.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    // Probing upwards without creating anything: the first level that exists ends the walk.
    const exists = await stat(at).then(
      (s) => {
        if (!s.isDirectory())
          throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), { code: 'ENOTDIR', path: at });
        return true;
      },
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' && path.dirname(at) !== at) return false;
        throw error;
      },
    );
    if (exists) break;
    missing.push(at);
  }
  // The folders below the first one that exists, outermost first. ENOENT with the parent there is a
  // file system that takes no new folders (/proc, /sys): ENOTSUP, which the store says as such.
  for (const folder of missing.reverse()) {
    await mkdir(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return;
      if (error.code === 'ENOENT')
        throw Object.assign(new Error(`ENOTSUP: the file system takes no new folders, mkdir '${folder}'`), {
          code: 'ENOTSUP',
          syscall: 'mkdir',
          path: folder,
        });
      throw error;
    });
  }
}
