import tf from '../tfjs.cjs';
import { UserError } from '../../diagnostics/user-error.js';
import type { SplitData } from '../data/dataset-types.js';
import { imageBatch, type ImagePreprocessing } from '../data/preprocess.js';
import { inputImages } from './explain-images.js';
import { GradCam, explanationLayer } from './grad-cam.js';
import { PrefixActivations, type ActivationsCache } from '../cache/prefix-activations.js';
import { overlayPng, thumbnailPng } from './heatmap-image.js';
import { argMax, galleryPositions } from './metrics.js';

/** Misclassified test examples shown with their Grad-CAM maps. */
const WORST_SHOWN = 8;
/** Thumbnails per class at most, and in all: a report of 100 classes stays a page, not a catalogue. */
const PER_CLASS_SHOWN = 4;
const PER_CLASS_TOTAL = 120;

/** One test example as a report shows it: what it is, what the model said, the image as the model saw it (PNG). */
export interface GalleryImage {
  example: string;
  actual: string;
  predicted: string;
  probabilityOfActual: number;
  probabilityOfPredicted: number;
  png: Uint8Array;
  /** Grad-CAM over the image for the class predicted and the class expected (PNG each). */
  heat?: { predicted: Uint8Array; actual: Uint8Array };
}

/** An anomaly model's test image as a report shows it: its verdict was wrong; the image, and its patch scores over it (PNG each). */
export interface ScoredImage {
  example: string;
  actual: string;
  anomalous: boolean;
  score: number;
  png: Uint8Array;
  heat: Uint8Array;
}

/** The test examples a report shows as images. */
export interface ExampleGallery {
  /** `task: anomaly`: the misjudged test images with their heat maps (worst and perClass are empty). */
  scored?: ScoredImage[];
  /** The layer the maps are computed at; absent when the model has none with height and width. */
  layer?: string;
  worst: GalleryImage[];
  perClass: { name: string; examples: GalleryImage[] }[];
}

/**
 * Thumbnails of the test examples the model finds hardest (the worst
 * misclassified, with Grad-CAM maps of the class predicted and the class
 * expected, and a few per class), from the model on images and its
 * predictions on the test split (`actual`, `probabilities` by position in
 * `indexes`).
 */
export async function exampleGallery(
  model: tf.LayersModel,
  split: SplitData,
  indexes: readonly number[],
  pre: ImagePreprocessing,
  classNames: readonly string[],
  predictions: { actual: number[]; probabilities: number[][] },
  /** Where the Grad-CAM layer's activations of the images are kept between runs (a head-only change reuses them). */
  activations?: ActivationsCache,
): Promise<ExampleGallery> {
  const { actual, probabilities } = predictions;
  const perClass = Math.max(1, Math.min(PER_CLASS_SHOWN, Math.floor(PER_CLASS_TOTAL / classNames.length)));
  const chosen = galleryPositions(actual, probabilities, classNames.length, WORST_SHOWN, perClass);
  const positions = [...new Set([...chosen.worst, ...chosen.perClass.flat()])];
  if (positions.length === 0) return { worst: [], perClass: [] };
  const predicted = (i: number): number => argMax(probabilities[i]!);
  const batch = await split.pixels(positions.map((i) => indexes[i]!));
  const images = inputImages(batch, pre);
  const pngs = await Promise.all(images.map(thumbnailPng));
  const at = new Map(positions.map((position, k) => [position, k]));
  const entry = (i: number): GalleryImage => ({
    example: split.name(indexes[i]!),
    actual: classNames[actual[i]!] ?? String(actual[i]),
    predicted: classNames[predicted(i)] ?? String(predicted(i)),
    probabilityOfActual: probabilities[i]![actual[i]!]!,
    probabilityOfPredicted: probabilities[i]![predicted(i)]!,
    png: pngs[at.get(i)!]!,
  });
  const worst = chosen.worst.map(entry);
  let layer: string | undefined;
  try {
    layer = explanationLayer(model);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
  }
  if (layer && worst.length > 0) {
    const cam = new GradCam(model, layer);
    const worstBatch = await split.pixels(chosen.worst.map((i) => indexes[i]!));
    const x = imageBatch(worstBatch, pre);
    const known = activations ? await new PrefixActivations(cam.prefix, activations).of(x) : undefined;
    try {
      const [ofPredicted, ofActual] = cam.mapsPerClassList(
        x,
        [chosen.worst.map(predicted), chosen.worst.map((i) => actual[i]!)],
        known,
      );
      for (const [k, w] of worst.entries()) {
        const image = images[at.get(chosen.worst[k]!)!]!;
        w.heat = {
          predicted: await overlayPng(image, ofPredicted![k]!),
          actual: await overlayPng(image, ofActual![k]!),
        };
      }
    } finally {
      tf.dispose([x, ...(known ? [known] : [])]);
    }
  }
  return {
    ...(layer ? { layer } : {}),
    worst,
    perClass: chosen.perClass.map((list, c) => ({ name: classNames[c] ?? String(c), examples: list.map(entry) })),
  };
}
