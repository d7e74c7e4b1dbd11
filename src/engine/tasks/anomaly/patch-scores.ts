import type { SplitData } from '../../data/dataset-types.js';
import { patchesOfPixels, type PatchFeatureExtractor } from '../../anomaly/patch-features.js';
import { scorePatches, type AnomalyScores, type LoadedBank } from '../../anomaly/memory-bank.js';
import { throwIfAborted } from '../../errors.js';

/** Images decoded per step: bounds the pixels and patches held at once, whatever the split's size. */
const IMAGES_PER_STEP = 64;

/**
 * The patches of examples `indexes` of `split`, decoded and preprocessed as
 * the run preprocesses its inputs, IMAGES_PER_STEP at a time, handed to
 * `each` in order (with the first example's position in `indexes`).
 */
export async function forEachPatchBatch(
  extractor: PatchFeatureExtractor,
  split: SplitData,
  indexes: readonly number[],
  each: (patches: Float32Array, from: number) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<void> {
  for (let from = 0; from < indexes.length; from += IMAGES_PER_STEP) {
    throwIfAborted(signal);
    const pixels = await split.pixels(indexes.slice(from, from + IMAGES_PER_STEP));
    await each(await patchesOfPixels(extractor, pixels, { signal }), from);
  }
}

/** Every example's score against the bank, and its patch scores (its heat map), in `indexes` order. */
export async function scoreExamples(
  extractor: PatchFeatureExtractor,
  bank: LoadedBank,
  split: SplitData,
  indexes: readonly number[],
  signal?: AbortSignal,
): Promise<AnomalyScores> {
  const cells = extractor.grid[0] * extractor.grid[1];
  const imageScores = new Float32Array(indexes.length);
  const patchScores = new Float32Array(indexes.length * cells);
  await forEachPatchBatch(
    extractor,
    split,
    indexes,
    async (patches, from) => {
      const scored = await scorePatches(bank, patches, extractor.grid, { signal });
      imageScores.set(scored.imageScores, from);
      patchScores.set(scored.patchScores, from * cells);
    },
    signal,
  );
  return { images: indexes.length, grid: extractor.grid, imageScores, patchScores };
}
