import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { readBackFile, readBackIfPresent, type ReadBackKind } from '../platform/read-back.js';
import { writeFileAtomic } from './atomic-write.js';

/**
 * manifest.json: the sha256 and size of every file of a folder tlpipe wrote
 * and will read back (a checkpoint, an exported model, a stage-cache entry),
 * metadata included. Written last, so a folder whose manifest reads was
 * complete; verified on every read, so a flipped byte, a truncated file or
 * an edited JSON is found before anything uses it. It guards against
 * damage, not against someone who rewrites the manifest too.
 */
export const MANIFEST_FILE = 'manifest.json';

export interface ManifestEntry {
  bytes: number;
  sha256: string;
}

export interface FolderManifest {
  formatVersion: 1;
  files: Record<string, ManifestEntry>;
}

export const sha256Of = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** A file name a manifest may list: one level, no way out of its folder. */
const SAFE_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/;

/**
 * Writes manifest.json for the regular files now in `dir` (all but the
 * manifest, temporary files and `exclude`), reading each back so the digest
 * is of what reached the disk.
 */
export async function writeFolderManifest(
  dir: string,
  options: { exclude?: readonly string[] } = {},
): Promise<FolderManifest> {
  const files: Record<string, ManifestEntry> = {};
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (
      !entry.isFile() ||
      entry.name === MANIFEST_FILE ||
      entry.name.endsWith('.tmp') ||
      options.exclude?.includes(entry.name)
    )
      continue;
    if (!SAFE_NAME.test(entry.name)) continue;
    const data = await readBackFile(dir, entry.name, { kind: 'binary' });
    files[entry.name] = { bytes: data.byteLength, sha256: sha256Of(data) };
  }
  const manifest: FolderManifest = { formatVersion: 1, files };
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** The manifest's shape checked field by field: it is read back like everything else. */
function parseManifest(value: unknown): FolderManifest | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { formatVersion, files } = value as { formatVersion?: unknown; files?: unknown };
  if (formatVersion !== 1 || !files || typeof files !== 'object' || Array.isArray(files)) return undefined;
  for (const [name, entry] of Object.entries(files as Record<string, unknown>)) {
    if (!SAFE_NAME.test(name) || !entry || typeof entry !== 'object') return undefined;
    const { bytes, sha256 } = entry as { bytes?: unknown; sha256?: unknown };
    if (
      !Number.isSafeInteger(bytes) ||
      (bytes as number) < 0 ||
      typeof sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(sha256)
    )
      return undefined;
  }
  return value as FolderManifest;
}

export type VerifiedFiles =
  { ok: true; files: Map<string, Buffer>; manifest: FolderManifest } | { ok: false; problem: string; file?: string };

/**
 * The named files of `dir`, each checked against the manifest (present,
 * listed, the size and the sha256 it gives): the bytes returned are the
 * bytes checked. `problem` says, in a person's words, what is wrong with
 * which file; a missing manifest is a problem too (the folder was not
 * finished, or predates manifests: `missingManifest` tells which to the caller).
 */
export async function readVerifiedFiles(
  dir: string,
  names: readonly string[],
  options: { kind?: ReadBackKind; what?: string; within?: string } = {},
): Promise<VerifiedFiles & { missingManifest?: boolean }> {
  const what = options.what ?? 'folder';
  // Every file is read as a path inside `within` (the run folder of a checkpoint, the cache's root):
  // a folder that is itself a link leading out of it is refused like a file that is.
  const root = options.within ?? dir;
  const inRoot = (name: string): string => path.join(path.relative(root, dir), name);
  let manifest: FolderManifest | undefined;
  try {
    const bytes = await readBackIfPresent(root, inRoot(MANIFEST_FILE), { what: `${what}'s manifest` });
    if (!bytes)
      return {
        ok: false,
        problem: `${path.join(dir, MANIFEST_FILE)} is missing`,
        file: path.join(dir, MANIFEST_FILE),
        missingManifest: true,
      };
    manifest = parseManifest(JSON.parse(bytes.toString('utf8')));
  } catch (error) {
    if (error instanceof UserError) return { ok: false, problem: error.message, file: path.join(dir, MANIFEST_FILE) };
    manifest = undefined;
  }
  if (!manifest)
    return {
      ok: false,
      problem: `${path.join(dir, MANIFEST_FILE)} is damaged (not a manifest tlpipe wrote)`,
      file: path.join(dir, MANIFEST_FILE),
    };
  const files = new Map<string, Buffer>();
  for (const name of names) {
    const file = path.join(dir, name);
    // Own keys only: `constructor` or `__proto__` are never listed files.
    const entry = Object.hasOwn(manifest.files, name) ? manifest.files[name] : undefined;
    if (!entry) return { ok: false, problem: `${file} is not listed in ${MANIFEST_FILE}`, file };
    let data: Buffer;
    try {
      // Bounded by the size the manifest gives: a file that grew is refused before it is read whole.
      data = await readBackFile(root, inRoot(name), {
        what: `${what} file`,
        kind: options.kind ?? 'binary',
        maxBytes: entry.bytes,
      });
    } catch (error) {
      if (error instanceof UserError) return { ok: false, problem: error.message, file };
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, problem: `${file} is missing`, file };
      throw error;
    }
    if (data.byteLength !== entry.bytes)
      return {
        ok: false,
        problem: `${file} has ${data.byteLength} bytes, ${entry.bytes} when it was written (truncated or changed)`,
        file,
      };
    if (sha256Of(data) !== entry.sha256)
      return {
        ok: false,
        problem: `${file} does not match the sha256 in ${MANIFEST_FILE} (damaged or changed since it was written)`,
        file,
      };
    files.set(name, data);
  }
  return { ok: true, files, manifest };
}
