import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DecisionRule } from '../engine/evaluate/decision-rule.js';
import type { TaskName } from '../format/types.js';

/** index.html beside an exported model: a page that classifies an image the user picks. */
export const DEMO_PAGE = 'index.html';

/**
 * Weights above this are not put in a page (base64 makes them a third
 * bigger): inception_v3's made a 118 MB page that a browser loads slowly and
 * git keeps for ever. `export.demoPage: true` writes it anyway.
 */
export const DEMO_PAGE_MAX_WEIGHT_BYTES = 32 * 2 ** 20;

/** What the demo page carries, read from the exported model's folder. */
export interface DemoPageModel {
  modelTopology: unknown;
  /** The weight manifest's entries, every group's in order: they describe `weights`. */
  weightSpecs: unknown[];
  /** weights.bin as it is. */
  weights: Uint8Array;
  labels: string[];
  /** preprocessing.json of an image model, as written. */
  preprocessing: { kind: 'image' } & Record<string, unknown>;
  /** The model's task, whose view the page shows (render/tasks); absent: classification, which lists the image's classes. */
  task?: TaskName;
  /** decision.json: the page answers with it as predict does (temperature, threshold, "unsure"). */
  decision?: DecisionRule;
}

/**
 * The demo page's HTML from the model's files. Rendering lives above the
 * store (src/render/), which the store cannot import, so the caller that
 * opens a run folder hands it in.
 */
export type DemoPageRenderer = (model: DemoPageModel) => Promise<string>;

/**
 * Writes index.html into an exported model's folder (`dir`), as `render`
 * makes it from model.json, weights.bin, labels.json and preprocessing.json.
 * Not written (false) for tabular models, nor above DEMO_PAGE_MAX_WEIGHT_BYTES
 * unless `always`. `task` says whose page it is (absent: classification's);
 * `decision`, the rule the page applies to the model's outputs.
 */
export async function writeDemoPage(
  dir: string,
  write: (file: string, content: string) => Promise<void>,
  render: DemoPageRenderer,
  options: { always?: boolean; task?: TaskName; decision?: DecisionRule } = {},
): Promise<boolean> {
  const weightBytes = (await stat(path.join(dir, 'weights.bin'))).size;
  if (weightBytes > DEMO_PAGE_MAX_WEIGHT_BYTES && !options.always) return false;
  const [modelJson, weights, labels, preprocessing] = await Promise.all([
    readFile(path.join(dir, 'model.json'), 'utf8').then(
      (t) => JSON.parse(t) as { modelTopology: unknown; weightsManifest: { weights: unknown[] }[] },
    ),
    readFile(path.join(dir, 'weights.bin')),
    readFile(path.join(dir, 'labels.json'), 'utf8').then((t) => JSON.parse(t) as string[]),
    readFile(path.join(dir, 'preprocessing.json'), 'utf8').then(
      (t) => JSON.parse(t) as { kind: string } & Record<string, unknown>,
    ),
  ]);
  if (preprocessing.kind !== 'image') return false;
  const page = await render({
    modelTopology: modelJson.modelTopology,
    weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights),
    weights,
    labels,
    preprocessing: preprocessing as DemoPageModel['preprocessing'],
    ...(options.task ? { task: options.task } : {}),
    ...(options.decision ? { decision: options.decision } : {}),
  });
  await write(path.join(dir, DEMO_PAGE), page);
  return true;
}
