import path from 'node:path';
import { describeDataset, type DatasetReport as EngineDatasetReport } from '../engine/data/describe-dataset.js';
import type { EngineEvent } from '../engine/events.js';
import type { PipelineSpec } from '../format/types.js';
import type { LoadedPipeline } from '../format/load-pipeline.js';
import { loadInput, runsRootOf } from './pipeline-input.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, type Outcome, type PipelineInput, type PipelineOptions } from './types.js';
import { readSource } from '../engine/data/source-dataset.js';
import { sourceWeighsNothing, type SourceSpec } from '../format/adaptation-keys.js';
/** `dataset.source` as `tlpipe data` reports it: what joins the training split (nothing with `weight: 0`). */
export interface SourceReport {
  format: string;
  /** Source examples that join the training split, per pipeline class (absent with weight 0: not read). */
  perClass?: number[];
  mapped?: { from: string; to: string }[];
  dropped?: string[];
  skipped?: number;
  weight: number;
  decay: number;
  digest?: string;
}

/** The source read as a run reads it (unless it weighs nothing): which of its examples join which class. */
async function describeSource(source: SourceSpec, classNames: string[], seed: number): Promise<SourceReport> {
  const { weight, decay } = source;
  if (sourceWeighsNothing(source)) return { format: source.dataset.format, weight, decay };
  const read = await readSource(source, classNames, { seed });
  return {
    format: source.dataset.format,
    perClass: read.perClass,
    mapped: read.mapped,
    dropped: read.dropped,
    skipped: read.skipped.length,
    weight,
    decay,
    digest: read.digest,
  };
}

/**
 * `adapt:`: the domain shift a run would start from: a domain classifier's
 * AUROC telling target from training images by the base's pooled features
 * (0.5: indistinguishable; near 1: two domains).
 */
export interface DataDomainShift {
  method: NonNullable<PipelineSpec['adapt']>['method'];
  before: { auroc: number };
  /** adapt.method adabn: after re-estimating the base's batch-norm statistics on the target images. coral and dann adapt while training: only a run measures them after. */
  after?: { auroc: number; by: 'adabn' };
  /** Images of each domain measured (a seeded sample of at most 500). */
  train: number;
  target: number;
  /** The base layer whose output was pooled. */
  features: string;
}

/** What training will see; for `task: anomaly`, which classes are normal (only their training and validation images are used). */
export type DatasetReport = EngineDatasetReport & {
  normal?: string[];
  source?: SourceReport;
  /** `adapt:` with enough images of both domains. */
  domainShift?: DataDomainShift;
  /** `adapt:` with too few training or target images (fewer than 10) to measure a shift: why there is no domainShift. */
  domainShiftSkipped?: string;
};

export interface DataOptions extends PipelineOptions {
  /** The engine's events (features extracted or reused); only a pipeline with `adapt:` has any. */
  onEvent?: (event: EngineEvent) => void;
}

/**
 * What training will see, before it starts: class counts per split, image
 * sizes, skipped and ignored files; with `adapt:`, the domain shift between
 * the training and target images on the base as cut.
 */
export async function describeData(input: PipelineInput, options: DataOptions = {}): Promise<Outcome<DatasetReport>> {
  const loaded = loadInput(input, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  const { spec, source } = loaded.value;
  const described = await userErrorsAt(spec.file, async () => {
    const report = await describeDataset(spec.dataset, spec.seed);
    return ok(
      {
        ...report,
        ...(spec.anomaly ? { normal: spec.anomaly.normal } : {}),
        ...(spec.source ? { source: await describeSource(spec.source, report.classNames, spec.seed) } : {}),
      },
      loaded.warnings,
    );
  });
  if (!described.ok)
    return failed(
      described.diagnostics.map((d) => source.locate(d)),
      loaded.warnings,
    );
  if (!spec.adapt) return described;
  const shift = await measureShift(loaded.value, options);
  if (!shift.ok) return failed(shift.diagnostics, [...loaded.warnings, ...shift.warnings]);
  return ok({ ...described.value, ...shift.value }, [...loaded.warnings, ...shift.warnings]);
}

/** The pipeline planned as a run would be (inputs read, base cut), then its shift task before adaptation. */
async function measureShift(
  loaded: LoadedPipeline,
  options: DataOptions,
): Promise<Outcome<Pick<DatasetReport, 'domainShift' | 'domainShiftSkipped'>>> {
  const { spec } = loaded;
  const adapt = spec.adapt!;
  const runsRoot = runsRootOf(options);
  const { preparePlan } = await import('./prepare-plan.js');
  const planned = await preparePlan(loaded, { runsRoot, ...(options.backend ? { backend: options.backend } : {}) });
  if (!planned.ok) return failed(planned.diagnostics);
  const { plan, inputs, source } = planned.value;
  const { dataShift } = await import('../engine/adapt/data-shift.js');
  const { StageCacheFiles } = await import('../store/stage-cache-files.js');
  const onEvent = options.onEvent ?? ((): void => undefined);
  try {
    const cache = new StageCacheFiles(path.join(runsRoot, '.cache'), undefined, (message) =>
      onEvent({ type: 'log', level: 'warn', message }),
    );
    const measured = await userErrorsAt(spec.file, async () => ok(await dataShift(plan, inputs, { onEvent, cache })));
    if (!measured.ok) return failed(measured.diagnostics.map((d) => source?.locate(d) ?? d));
    const { before, afterAdaBN } = measured.value;
    return ok(
      before
        ? {
            domainShift: {
              method: adapt.method,
              before: { auroc: before.auroc },
              ...(afterAdaBN ? { after: { auroc: afterAdaBN.auroc, by: 'adabn' as const } } : {}),
              train: before.train,
              target: before.target,
              features: before.features,
            },
          }
        : { domainShiftSkipped: 'too few training or target images (fewer than 10) to measure a domain shift' },
      planned.warnings,
    );
  } finally {
    inputs.base.dispose();
  }
}
