import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/package/package-root.js';

/**
 * The texture mosaics of test/fixtures/segmentation/textures (8 images of
 * 64×64 with their masks, 3 classes) as the segmentation e2e tests train
 * them: one pipeline, with the decoder and schedule each test needs.
 */
export const TEXTURES = path.join(packageRoot(), 'test', 'fixtures', 'segmentation', 'textures');
export const TEXTURE_CLASSES = readFileSync(path.join(TEXTURES, 'classes.txt'), 'utf8').trim().split('\n');

/** What a test chooses: the base's cut, the decoder and the stages; the rest is the same for every test. */
export interface TextureModel {
  cut: string;
  /** More `dataset:` keys (a validation split, augmentation), as YAML lines without their indent. */
  dataset?: string[];
  /** YAML list items of `head:`, one per line, without the leading `  - `. */
  head: string[];
  /** YAML lines under `train:` (indented by two spaces there). */
  train: string[];
}

/** The textures pipeline: the zoo's mobilenet_v2 encoder at 64×64 on the fixture, a quarter held out as the test split. */
export function texturesPipeline(model: TextureModel): string {
  return `name: textures
task: segmentation
seed: 3
dataset:
  format: segmentationFolder
  images: ${path.join(TEXTURES, 'images')}
  masks: ${path.join(TEXTURES, 'masks')}
  classes: [${TEXTURE_CLASSES.join(', ')}]
  test: 0.25
${(model.dataset ?? []).map((line) => `  ${line}\n`).join('')}  image: { size: [64, 64] }
base: { model: mobilenet_v2, cut: ${model.cut} }
head:
${model.head.map((layer) => `  - ${layer}`).join('\n')}
train:
${model.train.map((line) => `  ${line}`).join('\n')}
`;
}
