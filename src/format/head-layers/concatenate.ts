import { Type } from '@sinclair/typebox';
import { didYouMean } from '../../diagnostics/did-you-mean.js';
import { needsFeatureMap, type Dim, type HeadLayerEntry } from './entry.js';

/** A U-Net skip connection: the current tensor and a base layer's output, side by side along the channels. */
export interface ConcatenateSpec {
  type: 'concatenate';
  with: string;
}

const description =
  "A skip connection (U-Net): concatenates the current feature map with the output of the named base layer, along the channels. Their heights and widths must match. Stages that train the head then run images through the whole model, since the head reads the base's inside.";

const options = Type.Object(
  {
    with: Type.String({
      description: 'The base layer whose output is concatenated, e.g. block_6_expand_relu.',
      minLength: 1,
    }),
  },
  { description, additionalProperties: false },
);

const show = (shape: readonly Dim[]): string => `[${shape.map((d) => d ?? '?').join(', ')}]`;

export const concatenate = {
  options,
  description,
  resolve: (o) => ({ type: 'concatenate', with: o.with }),
  outputShape: (layer, input, context) => {
    const problem = needsFeatureMap(layer.type, input, context);
    if (problem) return problem;
    const layers = context.baseLayers;
    if (!layers) return [input[0]!, input[1]!, null];
    if (!layers.has(layer.with)) {
      const suggestion = didYouMean(layer.with, layers.keys());
      return {
        message: `the base has no layer named \`${layer.with}\` to concatenate with`,
        hint: suggestion ?? 'name a layer of the base below the cut (`tlpipe plan` lists the base)',
        key: ['concatenate', 'with'],
      };
    }
    const skip = layers.get(layer.with);
    if (!skip) return [input[0]!, input[1]!, null];
    const sameSize = skip.length === 3 && skip[0] === input[0] && skip[1] === input[1];
    if (!sameSize)
      return {
        message: `\`${layer.with}\` outputs ${show(skip)}, which cannot be concatenated with the head's ${show(input)} here: heights and widths must match`,
        hint: "upsample the head to the skip layer's size first, or take the skip from a layer of the head's size",
        key: ['concatenate', 'with'],
      };
    const channels = input[2] === null || skip[2] === null ? null : input[2]! + skip[2]!;
    return [input[0]!, input[1]!, channels];
  },
  reads: (layer) => [layer.with],
  paramCount: () => 0,
  keras: (layer, { name }) => [{ className: 'Concatenate', config: { name, axis: -1 }, reads: layer.with }],
} satisfies HeadLayerEntry<ConcatenateSpec, typeof options>;
