import type { TSchema } from '@sinclair/typebox';
import { AuditSchema } from './audit-file.js';
import { GallerySchema } from './gallery-file.js';
import { MaskGallerySchema } from './mask-gallery-file.js';
import { MemoryBankHeaderSchema } from './memory-bank-file.js';
import { MetricRowSchema } from './metrics-file.js';
import { PlanSchema, ResolvedSchema } from './plan-file.js';
import { CachedFeaturesMetaSchema, CachedStageMetaSchema } from './stage-cache-files.js';
import { SummarySchema } from './summary-file.js';

/**
 * Every shape the store checks a file it reads back against: `npm run schema`
 * compiles their validators at build time (read-back-validators-source.ts), so
 * that no command compiles one. Only that script and its test import this
 * list; a shape missing from it is still checked, compiled at run time (~0.1 s
 * and ajv's compiler), which test/architecture/command-imports.test.ts notices
 * for the commands it runs.
 */
export const READ_BACK_SCHEMAS: readonly TSchema[] = [
  AuditSchema,
  GallerySchema,
  MaskGallerySchema,
  MemoryBankHeaderSchema,
  MetricRowSchema,
  PlanSchema,
  ResolvedSchema,
  CachedFeaturesMetaSchema,
  CachedStageMetaSchema,
  SummarySchema,
];
