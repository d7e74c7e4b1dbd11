import { Type } from '@sinclair/typebox';
import { withDefault } from '../schema-parts.js';

/** A kernel's height and width, as convolutions take it. */
export const kernelSizeOption = Type.Optional(
  withDefault(
    3,
    Type.Union([Type.Integer({ minimum: 1 }), Type.Array(Type.Integer({ minimum: 1 }), { minItems: 2, maxItems: 2 })], {
      description: 'Kernel height and width: one number or [h, w] (Keras requires it; tlpipe takes 3 when omitted).',
    }),
  ),
);

/** One number means a square kernel. */
export const squareKernel = (size: number | number[]): [number, number] =>
  typeof size === 'number' ? [size, size] : [size[0]!, size[1]!];
