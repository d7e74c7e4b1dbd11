import * as tf from '@tensorflow/tfjs';
import type { PlanInputs } from '../plan/types.js';
import type { Result } from '../spec/diagnostics.js';
import type { BackendName, PipelineSpec } from '../spec/types.js';
import { selectBackend, type BackendChoice } from './backend.js';
import { readDataset, selectExamples, type LoadedDataset, type Selection } from './datasets.js';
import { UserError } from './errors.js';
import { buildBase } from './models.js';
import { preprocessingFor, type Preprocessing } from './preprocess.js';
import { loadZooArtifacts } from './zoo.js';

function countPerClass(labels: Int32Array, indexes: number[], numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const index of indexes) counts[labels[index]!]! += 1;
  return counts;
}

/** Everything read from disk for one pipeline, ready for planning and execution. */
export interface PreparedInputs {
  spec: PipelineSpec;
  backend: BackendChoice;
  dataset: LoadedDataset;
  selection: Selection;
  base: tf.LayersModel;
  preprocessing: Preprocessing;
  planInputs: PlanInputs;
  seconds: { data: number; base: number };
}

/**
 * Reads the dataset and the base model, checks them against the pipeline,
 * and measures what the planner needs (digests, class count, feature shape).
 * Problems with the user's input come back as diagnostics with key paths.
 */
export async function prepareInputs(spec: PipelineSpec, options: { backend?: BackendName } = {}): Promise<Result<PreparedInputs>> {
  try {
    const backend = await selectBackend(options.backend ?? spec.backend);
    const dataStarted = performance.now();
    const dataset = await readDataset(spec.dataset);
    const selection = selectExamples(dataset, {
      ...spec.dataset.limit,
      validation: spec.dataset.validation,
      testFraction: 'testFraction' in spec.dataset ? spec.dataset.testFraction : 0,
      seed: spec.seed,
    });
    const dataSeconds = (performance.now() - dataStarted) / 1000;

    const baseStarted = performance.now();
    const artifacts = loadZooArtifacts(spec.base.model);
    const base = await buildBase(artifacts, spec.base.cut, spec.dataset.image.size);
    const outputShape = base.outputs[0]!.shape.slice(1) as number[];
    if (outputShape.length !== 3 || outputShape.some((d) => !(d > 0))) {
      base.dispose();
      throw new UserError(
        `at ${spec.dataset.image.size.join('×')} the base's output at \`${spec.base.cut}\` has shape [${outputShape.join(', ')}]`,
        ['dataset', 'image', 'size'],
        'use larger images or cut the base lower',
      );
    }
    const baseSeconds = (performance.now() - baseStarted) / 1000;
    return {
      ok: true,
      warnings: [],
      value: {
        spec,
        backend,
        dataset,
        selection,
        base,
        preprocessing: preprocessingFor(spec.base.normalize, spec.dataset.image),
        planInputs: {
          dataset: {
            digest: dataset.digest,
            numClasses: dataset.numClasses,
            ...(dataset.classNames ? { classNames: dataset.classNames } : {}),
            counts: { train: selection.train.length, validation: selection.validation.length, test: selection.test.length },
            trainPerClass: countPerClass(dataset.train.labels, selection.train, dataset.numClasses),
          },
          base: { digest: artifacts.digest, cutOutputShape: outputShape, layerCount: base.layers.length, paramCount: base.countParams() },
        },
        seconds: { data: dataSeconds, base: baseSeconds },
      },
    };
  } catch (error) {
    if (error instanceof UserError) return { ok: false, diagnostics: [error.toDiagnostic(spec.file)] };
    throw error;
  }
}
