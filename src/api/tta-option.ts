/**
 * Test-time augmentation as callers name it: `--tta flip,crops` on the
 * command line, `{ tta: ['flip'] }` in the library. Light on purpose (no
 * tfjs): the CLI parses its option with it before loading anything.
 */
import { UserError } from '../diagnostics/user-error.js';
import { TTA_TRANSFORMS, type TtaTransform } from '../format/evaluation-keys.js';

export { TTA_TRANSFORMS, type TtaTransform };

const ALLOWED = `the transforms are ${TTA_TRANSFORMS.join(' and ')} (flip: the image and its mirror; crops: the image, its four corner crops and its centre crop), comma-separated, e.g. flip,crops`;

/** Names that are not transforms, said with the ones there are; undefined when every name is one. */
function unknownTransforms(names: readonly string[]): string | undefined {
  const unknown = names.filter((n) => !(TTA_TRANSFORMS as readonly string[]).includes(n));
  return unknown.length === 0
    ? undefined
    : `unknown test-time augmentation ${unknown.map((n) => `\`${n}\``).join(', ')}: ${ALLOWED}`;
}

/** `--tta flip,crops` as transforms (each once, in the order given), or what is wrong with it. */
export function parseTtaOption(text: string): { transforms: TtaTransform[] } | { problem: string } {
  const names = text.split(',').map((n) => n.trim());
  if (names.some((n) => n === '')) return { problem: `--tta takes a list of transforms, got '${text}': ${ALLOWED}` };
  const problem = unknownTransforms(names);
  return problem ? { problem: `--tta: ${problem}` } : { transforms: [...new Set(names)] as TtaTransform[] };
}

/** The library's `tta` option, checked: a JavaScript caller may pass any string. */
export function checkedTransforms(names: readonly string[] | undefined): TtaTransform[] {
  if (names === undefined) return [];
  if (!Array.isArray(names)) throw new UserError('`tta` is a list of transforms', [], ALLOWED);
  const problem = unknownTransforms(names);
  if (problem) throw new UserError(problem);
  return [...new Set(names)] as TtaTransform[];
}

/** What a model of tabular rows says when asked for test-time augmentation. */
export const ttaNeedsImages = (): UserError =>
  new UserError(
    'test-time augmentation (--tta) transforms images, and this model was trained on tabular rows',
    [],
    'leave out --tta (the library: the tta option)',
  );
