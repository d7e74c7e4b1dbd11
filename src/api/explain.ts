import path from 'node:path';
import { overlayPng } from '../engine/evaluate/heatmap-image.js';
import type { ClassHeatmap } from '../engine/evaluate/grad-cam.js';
import { writeFileAtomic } from '../store/atomic-write.js';
import { createHash } from 'node:crypto';
import { loadModel, type ModelOptions } from './load-model.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, problem, type Outcome } from './types.js';
import { makeDirs } from '../platform/make-dirs.js';

export interface ExplainOptions extends ModelOptions {
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
  maps: {
    label: string;
    probability: number;
    why: 'predicted' | 'asked';
    heatmap: ClassHeatmap;
    /** The overlay PNG, when `out` was given. */ overlay?: string;
  }[];
}

/**
 * Grad-CAM for image files with a run's exported model: where in each image
 * the evidence for the class it is given lies (and for any class asked
 * about), as maps at the model's input size and, with `out`, as PNGs of the
 * map drawn over the image as the model saw it. A file that cannot be
 * decoded is a diagnostic of its own; the others are explained.
 */
export async function explain(
  runRef: string,
  inputs: readonly string[],
  options: ExplainOptions = {},
): Promise<Outcome<{ layer: string; explanations: Explanation[] }>> {
  const loaded = await loadModel(runRef, options);
  if (!loaded.ok) return failed(loaded.diagnostics, loaded.warnings);
  try {
    return await userErrorsAt(runRef, async () => {
      const { layer, explanations, failures } = await loaded.value.explain(inputs, {
        ...(options.top !== undefined ? { top: options.top } : {}),
        ...(options.classes ? { classes: options.classes } : {}),
        ...(options.layer ? { layer: options.layer } : {}),
      });
      const names = overlayNames(explanations.map((e) => e.file));
      const labelNames = portableNames(loaded.value.labels);
      if (options.out) await makeDirs(options.out);
      const value = {
        layer,
        explanations: await Promise.all(
          explanations.map(async (e, i): Promise<Explanation> => ({
            file: e.file,
            top: e.top,
            maps: await Promise.all(
              e.maps.map(async (m) => {
                if (!options.out) return m;
                const overlay = path.join(
                  options.out,
                  `${names[i]}.${labelNames.get(m.label) ?? portableName(m.label)}.png`,
                );
                await writeFileAtomic(overlay, await overlayPng(e.image, m.heatmap, { reduce: false }));
                return { ...m, overlay };
              }),
            ),
          })),
        ),
      };
      return failures.length === 0
        ? ok(value, loaded.warnings)
        : failed(
            failures.map((f) => problem(f.file, f.reason, 'the other images were explained')),
            loaded.warnings,
            value,
          );
    });
  } finally {
    loaded.value.dispose();
  }
}

/**
 * Each image's name without its extension, made portable; images of the
 * same name (from different folders, or differing only in case, which
 * macOS and Windows do not tell apart) are told apart by their position.
 */
export function overlayNames(files: readonly string[]): string[] {
  const stems = files.map((f) => portableName(path.basename(f, path.extname(f))));
  const counts = new Map<string, number>();
  for (const s of stems) counts.set(s.toLowerCase(), (counts.get(s.toLowerCase()) ?? 0) + 1);
  return stems.map((s, i) => (counts.get(s.toLowerCase())! > 1 ? `${String(i + 1).padStart(3, '0')}-${s}` : s));
}

/** Bytes of UTF-8 a part of an overlay's name may take: two parts and `.png` stay far below the 255 of most file systems. */
const NAME_PART_BYTES = 100;
/** Names Windows reserves for devices, with or without an extension. */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/i;

const shortHash = (name: string): string => createHash('sha256').update(name).digest('hex').slice(0, 8);

/**
 * A class or image name as part of a file name on any system: control,
 * format (right-to-left override, zero-width) and separator characters,
 * and those Windows reserves, become `_`; a leading dot, trailing dots or
 * spaces and device names (`CON`, `NUL`, `COM1`…) are defused; and a name
 * changed, or longer than NAME_PART_BYTES, ends in a hash of the original,
 * so two names stay two files.
 */
export function portableName(name: string): string {
  let safe = name
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu, '_')
    .replace(/[\\/:*?"<>|]/g, '_')
    .replace(/^[.\s]/, '_')
    .replace(/[.\s]$/, '_');
  if (WINDOWS_RESERVED.test(safe)) safe = `_${safe}`;
  if (safe === '') safe = '_';
  if (safe === name && Buffer.byteLength(safe) <= NAME_PART_BYTES) return safe;
  const suffix = `-${shortHash(name)}`;
  let cut = '';
  for (const ch of safe) {
    if (Buffer.byteLength(cut + ch) > NAME_PART_BYTES - suffix.length) break;
    cut += ch;
  }
  return `${cut}${suffix}`;
}

/** Each label's portable name; labels whose names would be one file on a case-insensitive system get a hash each. */
function portableNames(labels: readonly string[]): Map<string, string> {
  const names = new Map(labels.map((l) => [l, portableName(l)]));
  const counts = new Map<string, number>();
  for (const n of names.values()) counts.set(n.toLowerCase(), (counts.get(n.toLowerCase()) ?? 0) + 1);
  for (const [label, n] of names) if (counts.get(n.toLowerCase())! > 1) names.set(label, `${n}-${shortHash(label)}`);
  return names;
}
