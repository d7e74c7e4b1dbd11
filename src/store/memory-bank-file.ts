import path from 'node:path';
import { lstat } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';
import { UserError } from '../diagnostics/user-error.js';
import type { CoresetRecord, MemoryBank } from '../engine/anomaly/memory-bank.js';
import type { PatchFeatureSettings } from '../engine/anomaly/patch-features.js';
import type { AnomalyThreshold } from '../engine/anomaly/threshold.js';
import { readBackFile, readBackJson } from '../platform/read-back.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { sha256Of } from './file-manifest.js';
import { checkShape } from './read-back-shape.js';

/**
 * An anomaly model's memory bank in the run's model folder: the patches as
 * one little-endian float32 file, memory-bank.bin, and memory-bank.json, a
 * header saying what they are (shape, the layers and image size the
 * patches come from, the threshold, the coreset's settings) with the
 * binary's size and sha256. The header is written last, so a folder whose
 * header reads has its data; reading back trusts neither file.
 */
export const BANK_HEADER_FILE = 'memory-bank.json';
export const BANK_DATA_FILE = 'memory-bank.bin';

/** Beyond these a bank is refused before anything is allocated for it. */
export const MEMORY_BANK_LIMITS = {
  headerBytes: 1 * 2 ** 20,
  /** The largest bank read back; the coreset's byte cap keeps a pipeline's far below it. */
  bankBytes: 2 * 2 ** 30,
  dim: 1 << 16,
  layers: 64,
  inputSide: 4096,
} as const;

const DAMAGED_HINT =
  'the memory bank was damaged or edited since it was written; run the pipeline again, or copy the model folder again from where it is whole';

const count = (maximum: number) => Type.Integer({ minimum: 1, maximum });
const finite = (options: { minimum?: number; maximum?: number } = {}) =>
  Type.Number({ minimum: -1e12, maximum: 1e12, ...options });
// Arrays of two, not Type.Tuple: TypeBox writes a tuple as draft-07 `items: […]`, which ajv's 2020 dialect refuses.
const Pair = (maximum: number) => Type.Array(count(maximum), { minItems: 2, maxItems: 2 });

export const MemoryBankHeaderSchema = Type.Object({
  formatVersion: Type.Literal(1),
  data: Type.String({ minLength: 1, maxLength: 255 }),
  dtype: Type.Literal('float32'),
  /** [patches, dimensions]. */
  shape: Type.Array(count(2 ** 31), { minItems: 2, maxItems: 2 }),
  bytes: Type.Integer({ minimum: 4, maximum: Number.MAX_SAFE_INTEGER }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  features: Type.Object({
    base: Type.String({ maxLength: 1000 }),
    layers: Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), {
      minItems: 1,
      maxItems: MEMORY_BANK_LIMITS.layers,
    }),
    neighbourhood: count(64),
    projectTo: Type.Optional(count(MEMORY_BANK_LIMITS.dim)),
    seed: Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1 }),
    imageSize: Pair(MEMORY_BANK_LIMITS.inputSide),
    grid: Pair(MEMORY_BANK_LIMITS.inputSide),
    depth: count(1 << 20),
  }),
  threshold: Type.Object({
    value: finite(),
    quantile: finite({ minimum: 0, maximum: 1 }),
    from: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  }),
  coreset: Type.Object({
    fraction: finite({ minimum: 0, maximum: 1 }),
    maxBytes: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    seed: Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1 }),
    projectTo: count(MEMORY_BANK_LIMITS.dim),
    fromPatches: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    kept: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    capped: Type.Boolean(),
  }),
  scoring: Type.Object({ neighbours: count(1000) }),
  // Optional: folders exported before it was recorded still read (their run's plan.json says the same).
  classes: Type.Optional(
    Type.Object({
      names: Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { minItems: 1, maxItems: 65_536 }),
      normal: Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { minItems: 1, maxItems: 65_536 }),
    }),
  ),
});
type CheckedHeader = Static<typeof MemoryBankHeaderSchema>;
export type MemoryBankHeader = Omit<CheckedHeader, 'shape' | 'features'> & {
  shape: [number, number];
  features: Omit<CheckedHeader['features'], 'imageSize' | 'grid'> & {
    imageSize: [number, number];
    grid: [number, number];
  };
};

/** What a bank is, besides its patches: enough to compute a test image's patches the same way and to call its verdict. */
export interface MemoryBankInfo {
  features: PatchFeatureSettings & {
    base: string;
    imageSize: [number, number];
    grid: [number, number];
    depth: number;
  };
  threshold: AnomalyThreshold;
  coreset: CoresetRecord;
  scoring: { neighbours: number };
  /** The run's classes, in label order, and those it took as normal: what a model folder alone needs to be evaluated. */
  classes: BankClasses;
}

/** The classes of the dataset a bank was made from, by name, and which of them are normal. */
export interface BankClasses {
  names: string[];
  normal: string[];
}

/** Whether a model folder is an anomaly model's: it has a memory bank header beside model.json. */
export function isAnomalyModelFolder(modelDir: string): Promise<boolean> {
  return lstat(path.join(modelDir, BANK_HEADER_FILE)).then(
    () => true,
    () => false,
  );
}

/** Writes memory-bank.bin, then memory-bank.json, each atomically, into `dir` (the run's model folder). */
export async function writeMemoryBank(dir: string, bank: MemoryBank, info: MemoryBankInfo): Promise<MemoryBankHeader> {
  if (bank.patches.length !== bank.count * bank.dim)
    throw new Error(`a bank of ${bank.count}×${bank.dim} holds ${bank.patches.length} floats`);
  // float32 in the machine's order, which is little-endian everywhere Node runs.
  const bytes = new Uint8Array(bank.patches.buffer, bank.patches.byteOffset, bank.patches.byteLength);
  const header: MemoryBankHeader = {
    formatVersion: 1,
    data: BANK_DATA_FILE,
    dtype: 'float32',
    shape: [bank.count, bank.dim],
    bytes: bytes.byteLength,
    sha256: sha256Of(bytes),
    features: info.features,
    threshold: info.threshold,
    coreset: info.coreset,
    scoring: info.scoring,
    classes: info.classes,
  };
  await writeFileAtomic(path.join(dir, BANK_DATA_FILE), bytes);
  await writeJsonAtomic(path.join(dir, BANK_HEADER_FILE), header);
  return header;
}

/**
 * The bank in `dir`, read without trust: the header's shape checked field
 * by field, its declared size bounded (by `maxBytes` when given, and by
 * MEMORY_BANK_LIMITS) and equal to its shape before the data is read, the
 * data file confined to the folder, its size and sha256 as declared.
 * Anything wrong is a UserError naming the file.
 */
export async function readMemoryBank(
  dir: string,
  options: { maxBytes?: number } = {},
): Promise<{ bank: MemoryBank; header: MemoryBankHeader }> {
  const headerFile = path.join(dir, BANK_HEADER_FILE);
  const header = checkShape(
    MemoryBankHeaderSchema,
    await readBackJson(dir, BANK_HEADER_FILE, {
      what: 'memory bank header',
      maxBytes: MEMORY_BANK_LIMITS.headerBytes,
      hint: DAMAGED_HINT,
    }).catch(missing(headerFile)),
    headerFile,
    'a memory bank header',
    DAMAGED_HINT,
  ) as MemoryBankHeader;
  const normalUnknown = header.classes?.normal.find((name) => !header.classes!.names.includes(name));
  if (normalUnknown !== undefined)
    throw new UserError(
      `${headerFile} names \`${normalUnknown}\` as normal, but it is not one of its classes`,
      [],
      DAMAGED_HINT,
    );
  const [patches, dim] = header.shape;
  const limit = Math.min(options.maxBytes ?? Infinity, MEMORY_BANK_LIMITS.bankBytes);
  if (patches * dim * 4 !== header.bytes)
    throw new UserError(
      `${headerFile} declares ${header.bytes} bytes for ${patches}×${dim} float32s`,
      [],
      DAMAGED_HINT,
    );
  if (header.bytes > limit)
    throw new UserError(
      `${headerFile} declares a bank of ${header.bytes} bytes, more than the ${limit} tlpipe reads`,
      [],
      DAMAGED_HINT,
    );
  const data = await readBackFile(dir, header.data, {
    what: 'memory bank',
    kind: 'binary',
    maxBytes: header.bytes,
    hint: DAMAGED_HINT,
  }).catch(missing(path.join(dir, header.data)));
  if (data.byteLength !== header.bytes)
    throw new UserError(
      `${path.join(dir, header.data)} has ${data.byteLength} bytes, not the ${header.bytes} its header declares`,
      [],
      DAMAGED_HINT,
    );
  if (sha256Of(data) !== header.sha256)
    throw new UserError(`${path.join(dir, header.data)} does not match the sha256 in its header`, [], DAMAGED_HINT);
  // A copy: the Buffer may sit at an offset that is not a multiple of 4 in a shared pool.
  const floats = new Float32Array(patches * dim);
  new Uint8Array(floats.buffer).set(data);
  return { bank: { patches: floats, count: patches, dim }, header };
}

const missing =
  (file: string) =>
  (error: NodeJS.ErrnoException): never => {
    if (error instanceof UserError) throw error;
    if (error.code === 'ENOENT')
      throw new UserError(
        `${file} is missing`,
        [],
        'an anomaly model folder holds memory-bank.json and memory-bank.bin',
      );
    throw error;
  };
