import { describeDataset, type DatasetReport as EngineDatasetReport } from '../engine/data/describe-dataset.js';
import { loadInput } from './pipeline-input.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, type Outcome, type PipelineInput, type PipelineOptions } from './types.js';

/** What training will see; for `task: anomaly`, which classes are normal (only their training and validation images are used). */
export type DatasetReport = EngineDatasetReport & { normal?: string[] };

/** What training will see, before it starts: class counts per split, image sizes, skipped and ignored files. */
export async function describeData(
  input: PipelineInput,
  options: Omit<PipelineOptions, 'runsDir' | 'backend'> = {},
): Promise<Outcome<DatasetReport>> {
  const loaded = loadInput(input, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  const { spec, source } = loaded.value;
  const described = await userErrorsAt(spec.file, async () =>
    ok(
      {
        ...(await describeDataset(spec.dataset, spec.seed)),
        ...(spec.anomaly ? { normal: spec.anomaly.normal } : {}),
      },
      loaded.warnings,
    ),
  );
  return described.ok
    ? described
    : failed(
        described.diagnostics.map((d) => source.locate(d)),
        loaded.warnings,
      );
}
