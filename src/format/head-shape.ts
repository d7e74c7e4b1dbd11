/** A problem with the order of head layers, given the rank of the features they receive. */
export interface HeadShapeProblem {
  index: number;
  message: string;
  hint: string;
}

const REDUCERS = ['flatten', 'globalAveragePooling2d', 'globalMaxPooling2d'];

/**
 * Checks that head layers fit the base's output: a feature map
 * ([h, w, c], rank 3) must be pooled or flattened once before any dense
 * layer; a vector (rank 1) must not be. One function for the spec's early
 * check (zoo bases, rank known) and the planner's (any base).
 */
export function headShapeProblems(
  layers: readonly { type: string; targetShape?: number[] }[],
  featureRank: number,
): HeadShapeProblem[] {
  let rank = featureRank;
  let reducedAt = -1;
  for (const [index, { type, targetShape }] of layers.entries()) {
    if (type === 'reshape') {
      rank = targetShape?.length ?? rank;
      reducedAt = -1;
    } else if (type === 'conv2d' || type === 'maxPooling2d') {
      if (rank !== 3) {
        return [
          {
            index,
            message: `\`${type}\` needs a feature map [height, width, channels], but ${reducedAt >= 0 ? `head[${reducedAt}] turned it into a vector` : 'it receives a vector'}`,
            hint: 'put convolutions and pooling before any flatten, global pooling or dense layer',
          },
        ];
      }
    } else if (REDUCERS.includes(type)) {
      if (rank === 3) {
        rank = 1;
        reducedAt = index;
      } else if (reducedAt >= 0) {
        return [
          {
            index,
            message: `\`${type}\` needs a feature map, but head[${reducedAt}] already turned it into a vector`,
            hint: 'keep one of the pooling/flatten layers',
          },
        ];
      } else {
        return [
          {
            index,
            message: `\`${type}\` needs a feature map [height, width, channels], but the base outputs a vector`,
            hint: 'start the head with `dense` instead',
          },
        ];
      }
    } else if (type === 'dense' && rank === 3) {
      return [
        {
          index,
          message:
            "`dense` is applied to the base's feature map [height, width, channels] before it is pooled or flattened",
          hint: 'add `- globalAveragePooling2d: {}` (or `- flatten: {}`) before it',
        },
      ];
    }
  }
  return [];
}
