import { describeDataset, type DatasetReport as EngineDatasetReport } from '../engine/data/describe-dataset.js';
import { readSource } from '../engine/data/source-dataset.js';
import { sourceWeighsNothing, type SourceSpec } from '../format/adaptation-keys.js';
import { loadInput } from './pipeline-input.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, type Outcome, type PipelineInput, type PipelineOptions } from './types.js';

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

/** What training will see; for `task: anomaly`, which classes are normal (only their training and validation images are used). */
export type DatasetReport = EngineDatasetReport & { normal?: string[]; source?: SourceReport };

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

/** What training will see, before it starts: class counts per split, image sizes, skipped and ignored files. */
export async function describeData(
  input: PipelineInput,
  options: Omit<PipelineOptions, 'runsDir' | 'backend'> = {},
): Promise<Outcome<DatasetReport>> {
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
  return described.ok
    ? described
    : failed(
        described.diagnostics.map((d) => source.locate(d)),
        loaded.warnings,
      );
}
