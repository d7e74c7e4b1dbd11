import { Type } from '@sinclair/typebox';

/** An output count that may be the dataset's class count, filled in by the planner. */
export const countOrClasses = (description: string, maximum: number) =>
  Type.Unsafe<number | 'classes'>({
    description: `${description}: a positive integer, or \`classes\` for the number of classes.`,
    type: ['integer', 'string'],
    minimum: 1,
    maximum,
    pattern: '^classes$',
  });
