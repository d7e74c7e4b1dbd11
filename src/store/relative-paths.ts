import path from 'node:path';

/**
 * Paths as a run folder keeps them: relative to the pipeline's folder
 * (`digits/zero/51.png`, as the pipeline names its data), never absolute,
 * since run records are shared through git and an absolute path says
 * where one machine keeps its files, nothing about the run. `/` separates,
 * on every system.
 */
export function relativePath(file: string, base: string): string {
  if (!path.isAbsolute(file)) return file;
  return path.relative(base, file).split(path.sep).join('/') || '.';
}

/** A message with every path under `base` in it made relative to `base`. */
export function withRelativePaths(text: string, base: string): string {
  const prefix = path.resolve(base) + path.sep;
  return text.split(prefix).join('');
}
