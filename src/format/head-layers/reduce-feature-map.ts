import type { Dim, ShapeContext, ShapeProblem } from './entry.js';

/** Flatten and global pooling take a feature map once: the problem when what they receive is already a vector. */
export function reduceFeatureMap(type: string, input: readonly Dim[], context: ShapeContext): ShapeProblem | undefined {
  if (input.length === 3) return undefined;
  return context.vectorFrom !== undefined
    ? {
        message: `\`${type}\` needs a feature map, but head[${context.vectorFrom}] already turned it into a vector`,
        hint: 'keep one of the pooling/flatten layers',
      }
    : {
        message: `\`${type}\` needs a feature map [height, width, channels], but the base outputs a vector`,
        hint: 'start the head with `dense` instead',
      };
}
