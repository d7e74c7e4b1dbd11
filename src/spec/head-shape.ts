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
export function headShapeProblems(types: readonly string[], featureRank: number): HeadShapeProblem[] {
  let rank = featureRank;
  let reducedAt = -1;
  for (const [index, type] of types.entries()) {
    if (REDUCERS.includes(type)) {
      if (rank === 3) {
        rank = 1;
        reducedAt = index;
      } else if (reducedAt >= 0) {
        return [{ index, message: `\`${type}\` needs a feature map, but head[${reducedAt}] already turned it into a vector`, hint: 'keep one of the pooling/flatten layers' }];
      } else {
        return [{ index, message: `\`${type}\` needs a feature map [height, width, channels], but the base outputs a vector`, hint: 'start the head with `dense` instead' }];
      }
    } else if (type === 'dense' && rank === 3) {
      return [{
        index,
        message: '`dense` is applied to the base\'s feature map [height, width, channels] before it is pooled or flattened',
        hint: 'start the head with `- globalAveragePooling2d: {}` (or `- flatten: {}`)',
      }];
    }
  }
  return [];
}
