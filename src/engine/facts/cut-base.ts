import type * as tf from '@tensorflow/tfjs';
import { closestMatches } from '../../diagnostics/did-you-mean.js';
import type { Diagnostic, KeyPath, Result } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import { buildCutBase, buildPassThroughBase } from '../model/build-models.js';
import { cutTopology, layerNames, type KerasTopology } from '../model/model-topology.js';
import type { LoadedInputs } from './read-inputs.js';

/** The base as the pipeline cuts it, with what building it took. */
export interface CutBase {
  base: tf.LayersModel;
  /** The base's output at the cut, without the batch axis. */
  outputShape: number[];
  seconds: number;
}

/**
 * Builds the base at the spec's cut: the one place a cut is checked, so
 * every problem with it comes back here as a diagnostic at the key to
 * change — a layer the base does not have (with the nearest names), a cut
 * the base cannot be built at with this input, an output that is empty at
 * this image size. Image bases take the pipeline's image size; vector bases
 * keep their input; `base.model: none` is a pass-through "base".
 */
export async function cutBase(
  spec: PipelineSpec,
  inputs: Pick<LoadedInputs, 'artifacts' | 'preprocessing' | 'baseInput'>,
): Promise<Result<CutBase>> {
  const started = performance.now();
  const { artifacts } = inputs;
  const cut = spec.base.cut;
  const input =
    inputs.preprocessing.kind === 'image' ? [...spec.dataset.image.size, spec.dataset.image.channels] : undefined;
  let base: tf.LayersModel;
  if (artifacts) {
    const topology = cutTopology(artifacts.modelTopology, cut, input);
    if (!topology)
      return problem(
        spec,
        ['base', 'cut'],
        `the base has no layer named \`${cut}\``,
        nearestLayers(artifacts.modelTopology, cut),
      );
    try {
      base = await buildCutBase(artifacts, topology);
    } catch (error) {
      return problem(
        spec,
        ['base', 'cut'],
        `the base cannot be built cut at \`${cut}\`${input ? ` with input ${input.join('×')}` : ''}: ${(error as Error).message.split('\n')[0]}`,
        'layers such as Flatten and Dense only fit the input size the model was trained at; cut below them (e.g. at the last convolutional block) or use that size',
      );
    }
  } else base = buildPassThroughBase(inputs.baseInput as number[]);
  const outputShape = base.outputs[0]!.shape.slice(1) as number[];
  if (outputShape.some((d) => !(d > 0))) {
    base.dispose();
    return problem(
      spec,
      ['dataset', 'image', 'size'],
      `at ${spec.dataset.image.size.join('×')} the base's output at \`${cut}\` has shape [${outputShape.join(', ')}]`,
      'use larger images or cut the base lower',
    );
  }
  return { ok: true, value: { base, outputShape, seconds: (performance.now() - started) / 1000 }, warnings: [] };
}

function nearestLayers(topology: KerasTopology, cut: string): string {
  const names = layerNames(topology);
  const near = closestMatches(cut, names, 3);
  return near.length > 0
    ? `nearest layer names: ${near.join(', ')}`
    : `layers run from ${names[0]} to ${names[names.length - 1]}`;
}

function problem(
  spec: PipelineSpec,
  path: KeyPath,
  message: string,
  hint: string,
): { ok: false; diagnostics: Diagnostic[] } {
  return { ok: false, diagnostics: [{ file: spec.file, path, message, hint, severity: 'error' }] };
}
