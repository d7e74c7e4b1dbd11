/**
 * `head: unet`: the decoder of TensorFlow's segmentation tutorial for its
 * MobileNetV2 encoder, expanded when the file is resolved into the plain
 * layer list a user could have written (and `tlpipe plan` shows).
 */
import { Type, type Static } from '@sinclair/typebox';
import { Enum, withDefault } from '../schema-parts.js';
import type { RuleFinding } from '../rules.js';
import type { HeadLayerAsWritten } from './registry.js';

/** The tutorial's encoder output: the last base layer kept. */
export const UNET_CUT = 'block_16_project';
/** The cut a head needs of a base when the file names none: `unet` on the zoo's mobilenet_v2 needs the tutorial's encoder output. */
export const cutTheHeadNeeds = (head: unknown, model: string): string | undefined =>
  isUnet(head) && model === 'mobilenet_v2' ? UNET_CUT : undefined;

const SKIPS = ['block_13_expand_relu', 'block_6_expand_relu', 'block_3_expand_relu', 'block_1_expand_relu'];
const FILTERS = [512, 256, 128, 64];

export const unetName = Enum(['unet'], {
  description: `A U-Net decoder for the zoo's mobilenet_v2 cut at ${UNET_CUT}, as in TensorFlow's segmentation tutorial: an upsample block per skip (${FILTERS.join(', ')} filters), each followed by a concatenate with ${SKIPS.join(', ')}, then conv2dTranspose { filters: classes, kernelSize: 3, strides: 2, padding: same }.`,
});

export const unetObject = Type.Object(
  {
    unet: Type.Object(
      {
        skips: Type.Optional(
          withDefault(
            SKIPS,
            Type.Array(Type.String({ minLength: 1 }), {
              description: 'Base layers concatenated in after each upsample block, deepest first.',
              minItems: 1,
            }),
          ),
        ),
        filters: Type.Optional(
          withDefault(
            FILTERS,
            Type.Array(Type.Integer({ minimum: 1, maximum: 4096 }), {
              description: 'Output channels of each upsample block; one per skip.',
              minItems: 1,
            }),
          ),
        ),
        kernelSize: Type.Optional(
          withDefault(3, Type.Integer({ description: 'Kernel size of the upsample blocks.', minimum: 1 })),
        ),
      },
      { description: 'The U-Net decoder with keys changed.', additionalProperties: false },
    ),
  },
  { description: '`unet` with keys changed.', additionalProperties: false },
);

export type UnetAsWritten = Static<typeof unetName> | Static<typeof unetObject>;

/** The decoder as the plain layer list (a file rule has checked one filter count per skip). */
export function expandUnet(written: UnetAsWritten): HeadLayerAsWritten[] {
  const { skips, filters, size } = unetKeys(written);
  return [
    ...skips.flatMap((skip, i): HeadLayerAsWritten[] => [
      { upsample: { filters: filters[i]!, size } },
      { concatenate: { with: skip } },
    ]),
    { conv2dTranspose: { filters: 'classes', kernelSize: 3, strides: 2, padding: 'same' } },
  ];
}

function unetKeys(written: UnetAsWritten): { skips: string[]; filters: number[]; size: number } {
  const options = typeof written === 'string' ? {} : written.unet;
  return { skips: options.skips ?? SKIPS, filters: options.filters ?? FILTERS, size: options.kernelSize ?? 3 };
}

export const isUnet = (head: unknown): head is UnetAsWritten =>
  head === 'unet' || (typeof head === 'object' && head !== null && !Array.isArray(head) && 'unet' in head);

/** `unet: {skips, filters}`: one upsample block per skip, so the lists pair up. */
export const unetFiltersPerSkip = (file: { head?: unknown }): RuleFinding[] => {
  if (!isUnet(file.head) || typeof file.head === 'string') return [];
  const { skips, filters } = unetKeys(file.head);
  return skips.length === filters.length
    ? []
    : [
        {
          path: ['head', 'unet', 'filters'],
          message: `\`unet\` has ${skips.length} skips but ${filters.length} filters`,
          hint: 'give one filter count per skip: each skip follows its own upsample block',
        },
      ];
};
