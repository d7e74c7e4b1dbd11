import path from 'node:path';
import { overlayPng } from '../engine/evaluate/heatmap-image.js';
import type { ClassHeatmap } from '../engine/evaluate/grad-cam.js';
import { writeFileAtomic } from '../store/atomic-write.js';
import { loadModel } from './load-model.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, problem, type Outcome, type PipelineOptions } from './types.js';
import { makeDirs } from '../platform/make-dirs.js';

export interface ExplainOptions extends Pick<PipelineOptions, 'runsDir' | 'backend'> {
  /** Write each map over its image as a PNG here: `<image name>.<class>.png`. Absent: nothing is written. */
  out?: string;
  /** Also explain these classes (by label) for every image, beside the one it is given. */
  classes?: readonly string[];
  /** The layer whose activations are weighed; default: the last with height and width. */
  layer?: string;
  /** How many of the most likely classes to list (default 3). */
  top?: number;
}

export interface Explanation {
  file: string;
  /** Best first. */
  top: { label: string; probability: number }[];
  maps: { label: string; probability: number; why: 'predicted' | 'asked'; heatmap: ClassHeatmap; /** The overlay PNG, when `out` was given. */ overlay?: string }[];
}

/**
 * Grad-CAM for image files with a run's exported model: where in each image
 * the evidence for the class it is given lies (and for any class asked
 * about), as maps at the model's input size and, with `out`, as PNGs of the
 * map drawn over the image as the model saw it. A file that cannot be
 * decoded is a diagnostic of its own; the others are explained.
 */
export async function explain(runRef: string, inputs: readonly string[], options: ExplainOptions = {}): Promise<Outcome<{ layer: string; explanations: Explanation[] }>> {
  const loaded = await loadModel(runRef, options);
  if (!loaded.ok) return failed(loaded.diagnostics);
  try {
    return await userErrorsAt(runRef, async () => {
      const { layer, explanations, failures } = await loaded.value.explain(inputs, {
        ...(options.top !== undefined ? { top: options.top } : {}),
        ...(options.classes ? { classes: options.classes } : {}),
        ...(options.layer ? { layer: options.layer } : {}),
      });
      const names = overlayNames(explanations.map((e) => e.file));
      if (options.out) await makeDirs(options.out);
      const value = {
        layer,
        explanations: await Promise.all(explanations.map(async (e, i): Promise<Explanation> => ({
          file: e.file,
          top: e.top,
          maps: await Promise.all(e.maps.map(async (m) => {
            if (!options.out) return m;
            const overlay = path.join(options.out, `${names[i]}.${safeName(m.label)}.png`);
            await writeFileAtomic(overlay, await overlayPng(e.image, m.heatmap, { reduce: false }));
            return { ...m, overlay };
          })),
        }))),
      };
      return failures.length === 0 ? ok(value) : failed(failures.map((f) => problem(f.file, f.reason, 'the other images were explained')), [], value);
    });
  } finally {
    loaded.value.dispose();
  }
}

/** Each image's name without its extension; images of the same name (from different folders) are told apart by their position. */
function overlayNames(files: readonly string[]): string[] {
  const stems = files.map((f) => safeName(path.basename(f, path.extname(f))));
  const counts = new Map<string, number>();
  for (const s of stems) counts.set(s, (counts.get(s) ?? 0) + 1);
  return stems.map((s, i) => (counts.get(s)! > 1 ? `${String(i + 1).padStart(3, '0')}-${s}` : s));
}

/** A label or file name as a file name on any system: path separators and other reserved characters become `_`. */
const safeName = (name: string): string => name.replace(/[\\/:*?"<>|\x00-\x1f]/g, '_').replace(/^\.+/, '_') || '_';
