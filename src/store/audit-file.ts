import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Type, type TSchema } from '@sinclair/typebox';
import type { AuditOutput, AuditResult, ExampleRef, PairFinding } from '../engine/audit/audit-types.js';
import { makeDirs } from '../platform/make-dirs.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { readShapedJsonIfPresent } from './read-back-shape.js';
import { relativePath } from './relative-paths.js';

/** audit.json: what the data audit found (bounded lists), and the thumbnails its page shows as base64 PNGs, so the page can be rebuilt from the file. */
export const AUDIT_FILE = 'audit.json';
/** audit.html: the audit as a self-contained page (`tlpipe audit` writes it beside audit.json). */
export const AUDIT_PAGE = 'audit.html';
/** `tlpipe audit` writes into runs/<pipeline>/audits/<NNNN>/. */
export const AUDITS_DIR = 'audits';

/** The audit as stored: examples named relative to the pipeline's folder, thumbnails by exampleKey. */
export type StoredAudit = AuditResult & { version: 1; thumbnails: Record<string, string> };

/** Thumbnails kept at most (each a few kilobytes). */
const MAX_THUMBNAILS = 400;

/** Writes audit.json into `dir`; example names relative to `pipelineDir`. */
export async function writeAudit(dir: string, output: AuditOutput, pipelineDir: string): Promise<StoredAudit> {
  const stored = storedAudit(output, pipelineDir);
  await writeJsonAtomic(path.join(dir, AUDIT_FILE), stored);
  return stored;
}

/** The audit as audit.json holds it. */
export function storedAudit({ result, thumbnails }: AuditOutput, pipelineDir: string): StoredAudit {
  const named = <T extends ExampleRef>(e: T): T => ({ ...e, name: relativePath(e.name, pipelineDir) });
  const pair = (p: PairFinding): PairFinding => ({ ...p, a: named(p.a), b: named(p.b) });
  return {
    version: 1,
    ...result,
    labelIssues: { ...result.labelIssues, shown: result.labelIssues.shown.map(named) },
    duplicates: {
      ...result.duplicates,
      leaks: result.duplicates.leaks.map(pair),
      within: result.duplicates.within.map(pair),
    },
    thumbnails: Object.fromEntries(
      thumbnails.slice(0, MAX_THUMBNAILS).map((t) => [exampleKey(t), Buffer.from(t.png).toString('base64')]),
    ),
  };
}

/** A new audit folder runs/<pipeline>/audits/<NNNN>/, numbered after the newest; made with mkdir, so two audits at once never share one. */
export async function createAuditFolder(runsRoot: string, pipeline: string): Promise<string> {
  const parent = path.join(runsRoot, pipeline, AUDITS_DIR);
  await makeDirs(parent);
  for (;;) {
    const taken = (await readdir(parent)).filter((name) => /^\d{4,}$/.test(name)).map(Number);
    const next = String((taken.length > 0 ? Math.max(...taken) : 0) + 1).padStart(4, '0');
    try {
      await mkdir(path.join(parent, next));
      return path.join(parent, next);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** Writes the audit's page into `dir`. */
export function writeAuditPage(dir: string, html: string): Promise<void> {
  return writeFileAtomic(path.join(dir, AUDIT_PAGE), html);
}

const Ref = Type.Object({
  split: Type.Union([Type.Literal('train'), Type.Literal('validation'), Type.Literal('test')]),
  index: Type.Integer({ minimum: 0 }),
  name: Type.String({ maxLength: 4096 }),
  label: Type.Integer({ minimum: 0 }),
});
const Numbers = (max: number): TSchema => Type.Array(Type.Union([Type.Number(), Type.Null()]), { maxItems: max });
const Matrix = Type.Array(Numbers(10_000), { maxItems: 10_000 });
const Pair = Type.Object({
  kind: Type.Union([Type.Literal('leak'), Type.Literal('duplicate')]),
  a: Ref,
  b: Ref,
  similarity: Type.Number(),
  exact: Type.Boolean(),
  pixelDistance: Type.Optional(Type.Number()),
});
const Statistics = Type.Object({
  brightness: Type.Union([Type.Number(), Type.Null()]),
  contrast: Type.Union([Type.Number(), Type.Null()]),
  count: Type.Integer(),
});
const Perclass = Type.Array(
  Type.Object({
    brightness: Type.Union([Type.Number(), Type.Null()]),
    contrast: Type.Union([Type.Number(), Type.Null()]),
    count: Type.Integer(),
  }),
  { maxItems: 10_000 },
);
export const AuditSchema = Type.Object({
  version: Type.Literal(1),
  classes: Type.Array(Type.String(), { maxItems: 10_000 }),
  examples: Type.Object({ train: Type.Integer(), validation: Type.Integer(), test: Type.Integer() }),
  features: Type.Object({ shape: Type.Array(Type.Integer(), { maxItems: 8 }), width: Type.Integer() }),
  settings: Type.Object({ folds: Type.Integer(), threshold: Type.Number(), seed: Type.Integer() }),
  outOfFoldAccuracy: Type.Number(),
  weakFeatures: Type.Optional(Type.Boolean()),
  labelIssues: Type.Object({
    total: Type.Integer(),
    thresholds: Numbers(10_000),
    confidentJoint: Matrix,
    shown: Type.Array(
      Type.Intersect([
        Ref,
        Type.Object({ suggested: Type.Integer(), selfConfidence: Type.Number(), margin: Type.Number() }),
      ]),
      { maxItems: 1000 },
    ),
  }),
  duplicates: Type.Object({
    leaks: Type.Array(Pair, { maxItems: 1000 }),
    within: Type.Array(Pair, { maxItems: 1000 }),
    counts: Type.Object({
      exactLeaks: Type.Integer(),
      nearLeaks: Type.Integer(),
      exactWithin: Type.Integer(),
      nearWithin: Type.Integer(),
    }),
  }),
  balance: Type.Object({
    counts: Numbers(10_000),
    ratio: Type.Union([Type.Number(), Type.Null()]),
    warn: Type.Boolean(),
    perSplit: Type.Object({ train: Numbers(10_000), validation: Numbers(10_000), test: Numbers(10_000) }),
  }),
  confusion: Type.Object({
    matrix: Matrix,
    hardPairs: Type.Array(
      Type.Object({ actual: Type.Integer(), predicted: Type.Integer(), share: Type.Number(), count: Type.Integer() }),
      { maxItems: 100 },
    ),
  }),
  shift: Type.Optional(
    Type.Object({ auroc: Type.Number(), warn: Type.Boolean(), train: Type.Integer(), test: Type.Integer() }),
  ),
  imageStatistics: Type.Object({
    perClass: Perclass,
    perSplit: Type.Optional(
      Type.Object({
        train: Type.Optional(Statistics),
        validation: Type.Optional(Statistics),
        test: Type.Optional(Statistics),
      }),
    ),
    outliers: Type.Array(
      Type.Object({
        class: Type.Integer(),
        statistic: Type.Union([Type.Literal('brightness'), Type.Literal('contrast')]),
        direction: Type.Union([Type.Literal('higher'), Type.Literal('lower')]),
        value: Type.Number(),
        others: Type.Number(),
        spreads: Type.Number(),
      }),
      { maxItems: 20_000 },
    ),
  }),
  seconds: Type.Number(),
  thumbnails: Type.Record(
    Type.String({ maxLength: 64 }),
    Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength: 1_000_000 }),
  ),
});

/**
 * audit.json read back (for report.html): bounded, confined, checked for
 * its shape; undefined when absent. JSON writes NaN and Infinity as null,
 * hence the nulls the shape allows.
 */
export async function readAudit(dir: string): Promise<StoredAudit | undefined> {
  const file = path.join(dir, AUDIT_FILE);
  return (await readShapedJsonIfPresent(dir, AUDIT_FILE, {
    what: 'the data audit',
    hint: `audit.json was damaged or edited by hand; remove it (rm ${file}) to rebuild the report without the audit`,
    schema: AuditSchema,
    expected: 'a data audit as tlpipe writes it',
  })) as StoredAudit | undefined;
}

/** An example's key in audit.json's thumbnails. */
export const exampleKey = (e: Pick<ExampleRef, 'split' | 'index'>): string => `${e.split}:${e.index}`;
