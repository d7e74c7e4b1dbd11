import type { Dim, HeadLayerEntry, ShapeContext } from './head-layers/entry.js';
import { isShapeProblem } from './head-layers/entry.js';
import { headLayerEntry, type HeadLayerType } from './head-layers/registry.js';

export type { Dim };

/** A problem with the order of head layers, given the shape of the features they receive. */
export interface HeadShapeProblem {
  index: number;
  message: string;
  hint: string;
  /** Under `head[index]`, the key it is about; absent: the layer. */
  key?: string[];
}

/** What each head layer outputs, in order, up to the first layer that cannot take its input. */
export interface HeadShapes {
  /** shapes[i] is what head[i] receives; one more than the layers that fit (the last is the head's output). */
  shapes: Dim[][];
  problem?: HeadShapeProblem;
}

/**
 * The fold of the head layers' entries over the base's output shape, each
 * layer's `outputShape` taking what the one before gave. `input` is the
 * shape, or only its rank when the sizes are not known yet (the spec's early
 * check on zoo bases); `baseLayers` (the base's layer shapes, from the
 * plan's facts) lets skip connections be checked.
 */
export function headShapes(
  layers: readonly { type: string }[],
  input: number | readonly Dim[],
  baseLayers?: ShapeContext['baseLayers'],
): HeadShapes {
  let shape: Dim[] = typeof input === 'number' ? Array<Dim>(input).fill(null) : [...input];
  const shapes = [shape];
  let vectorFrom: number | undefined;
  for (const [index, layer] of layers.entries()) {
    const entry = headLayerEntry(layer.type as HeadLayerType) as HeadLayerEntry<{ type: string }>;
    const output = entry.outputShape(layer, shape, { vectorFrom, ...(baseLayers ? { baseLayers } : {}) });
    if (isShapeProblem(output)) return { shapes, problem: { index, ...output } };
    if (entry.vectorOrigin === 'here') vectorFrom = index;
    else if (entry.vectorOrigin === 'none') vectorFrom = undefined;
    shapes.push((shape = output));
  }
  return { shapes };
}

/**
 * Checks that head layers fit the base's output: a feature map
 * ([h, w, c], rank 3) must be pooled or flattened once before any dense
 * layer; a vector (rank 1) must not be; a skip connection names a base
 * layer of the same height and width. One function for the spec's early
 * check (zoo bases, rank known) and the planner's (any base).
 */
export function headShapeProblems(
  layers: readonly { type: string }[],
  input: number | readonly Dim[],
  baseLayers?: ShapeContext['baseLayers'],
): HeadShapeProblem[] {
  const { problem } = headShapes(layers, input, baseLayers);
  return problem ? [problem] : [];
}
