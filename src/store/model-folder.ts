import { isAnomalyModelFolder, writeMemoryBank } from './memory-bank-file.js';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { io } from '@tensorflow/tfjs';
import { UserError } from '../diagnostics/user-error.js';
import type { Preprocessing } from '../engine/data/preprocess.js';
import type { ExportFiles } from '../engine/train/checkpoints.js';
import { confinedPath, readBackFile, readBackIfPresent } from '../platform/read-back.js';
import { weightSpecsProblem } from '../platform/weight-specs.js';
import type { DecisionRule } from '../engine/evaluate/decision-rule.js';
import { DECISION_FILE, DECISION_FILE_LIMIT, parseDecision, writeDecisionFile } from './decision-file.js';
import { writeDemoPage, type DemoPageRenderer } from './demo-page.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { MANIFEST_FILE, readVerifiedFiles, writeFolderManifest } from './file-manifest.js';

/**
 * A run's exported model folder, model/ (and model-uint8/, model-float16/):
 * model.json and weights.bin (the LayersModel, through `fileModelHandler`),
 * labels.json, preprocessing.json, probe.json, decision.json (when the
 * pipeline fitted a decision rule), index.html, and manifest.json last. This module is the only one that reads or writes them.
 */
export const MODEL_DIR = 'model';

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';
const LABELS_FILE = 'labels.json';
const PREPROCESSING_FILE = 'preprocessing.json';
const PROBE_FILE = 'probe.json';

const DAMAGED_HINT =
  'the exported model was damaged or edited since it was written; run the pipeline again, or copy the model folder again from where it is whole';

/** Beyond these a file of a model folder is refused before anything is allocated for it (the format allows 1024 per side). */
export const MODEL_FOLDER_LIMITS = {
  inputSide: 4096,
  classes: 65_536,
  labelLength: 1000,
  columns: 100_000,
  probeRows: 10_000,
} as const;

function joinWeightData(data: io.WeightData): Uint8Array {
  return Array.isArray(data) ? Buffer.concat(data.map((part) => new Uint8Array(part))) : new Uint8Array(data);
}

/** The first thing wrong with `value` against `schema`, as `at /path: message`, or undefined when it fits. */
function firstMismatch(schema: TSchema, value: unknown): string | undefined {
  if (Value.Check(schema, value)) return undefined;
  const error = Value.Errors(schema, value).First();
  return error
    ? `${error.path === '' ? 'the whole file' : `at ${error.path}`}: ${error.message.toLowerCase()}`
    : 'it does not have the expected shape';
}

function parseJson(bytes: Uint8Array, file: string, hint = DAMAGED_HINT): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    throw new UserError(`${file} is not valid JSON`, [], hint);
  }
}

const WeightSpecSchema = Type.Object({
  name: Type.String({ maxLength: 1000 }),
  shape: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 8 }),
  dtype: Type.Union([Type.Literal('float32'), Type.Literal('int32'), Type.Literal('bool')]),
  quantization: Type.Optional(
    Type.Object({ dtype: Type.Union([Type.Literal('uint8'), Type.Literal('uint16'), Type.Literal('float16')]) }),
  ),
});
const ModelJsonSchema = Type.Object({
  modelTopology: Type.Object({}),
  weightsManifest: Type.Array(
    Type.Object({
      paths: Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { maxItems: 10_000 }),
      weights: Type.Array(WeightSpecSchema),
    }),
    { maxItems: 10_000 },
  ),
});

/**
 * The weight files a model.json names, each confined to its folder (the
 * same check as a base model.json's: `../../w.bin` or an absolute path is
 * refused), as names relative to the folder.
 */
export function weightFileNames(model: io.ModelJSON, dir: string, file: string): string[] {
  return model.weightsManifest.flatMap((group) =>
    group.paths.map((shard) => {
      try {
        return path.relative(path.resolve(dir), confinedPath(dir, shard, 'weight file'));
      } catch {
        throw new UserError(
          `${file} names a weight file outside its folder: ${shard}`,
          [],
          'weight files sit beside model.json; the model folder was damaged or written by someone else',
        );
      }
    }),
  );
}

/** model.json parsed and its shape checked: a weights manifest with string paths and weight specs of known types. */
export function parseModelJson(bytes: Uint8Array, file: string): io.ModelJSON {
  const value = parseJson(bytes, file);
  const wrong = firstMismatch(ModelJsonSchema, value);
  if (wrong) throw new UserError(`${file} is not a tfjs LayersModel's model.json (${wrong})`, [], DAMAGED_HINT);
  return value as io.ModelJSON;
}

/**
 * The weight data must be exactly what the specs declare (shape product ×
 * bytes per element, summed): checked before tfjs allocates a tensor, so a
 * declared shape that is absurd, or weights cut short, is a clear error.
 */
export function checkWeightBytes(specs: readonly io.WeightsManifestEntry[], dataBytes: number, file: string): void {
  const problem = weightSpecsProblem(specs, dataBytes, file, { quantized: true });
  if (problem) throw new UserError(problem, [], DAMAGED_HINT);
}

/**
 * A tfjs IO handler for a folder on disk: model.json plus one weights.bin,
 * the layout `tf.loadLayersModel('file://…')` expects from tfjs-node. Pure
 * tfjs has no file:// handler; this one writes atomically and writes
 * model.json last, so a folder with a model.json always has its weights.
 * It loads nothing on trust: the weight files stay inside the folder, each
 * is a regular file within a bound, and the weights declared fill them
 * exactly. Given `verified` (the folder's files checked against its
 * manifest), it loads those bytes and reads nothing else.
 */
export function fileModelHandler(dir: string, verified?: ReadonlyMap<string, Uint8Array>): io.IOHandler {
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('binary model topologies are not supported');
      const weights = artifacts.weightData ? joinWeightData(artifacts.weightData) : new Uint8Array(0);
      await writeFileAtomic(path.join(dir, WEIGHTS_FILE), weights);
      const modelJson: io.ModelJSON = {
        modelTopology: artifacts.modelTopology!,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? 'tlpipe',
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      await writeJsonAtomic(path.join(dir, MODEL_FILE), modelJson);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },

    async load(): Promise<io.ModelArtifacts> {
      const file = path.join(dir, MODEL_FILE);
      const read = async (name: string, kind: 'json' | 'binary'): Promise<Uint8Array> => {
        if (!verified)
          return readBackFile(dir, name, {
            what: kind === 'json' ? 'model file' : 'weight file',
            kind,
            hint: DAMAGED_HINT,
          });
        const bytes = verified.get(name);
        if (!bytes)
          throw new UserError(
            `${path.join(dir, name)} is not among the files checked against ${MANIFEST_FILE}`,
            [],
            DAMAGED_HINT,
          );
        return bytes;
      };
      const modelJson = parseModelJson(await read(MODEL_FILE, 'json'), file);
      const parts: Uint8Array[] = [];
      for (const name of weightFileNames(modelJson, dir, file)) parts.push(await read(name, 'binary'));
      const specs = modelJson.weightsManifest.flatMap((group) => group.weights);
      const joined = Buffer.concat(parts);
      checkWeightBytes(specs, joined.byteLength, file);
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
        weightSpecs: specs,
        weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer,
        ...(modelJson.trainingConfig ? { trainingConfig: modelJson.trainingConfig } : {}),
        ...(modelJson.userDefinedMetadata ? { userDefinedMetadata: modelJson.userDefinedMetadata } : {}),
      };
    },
  };
}

/**
 * labels.json, preprocessing.json and probe.json beside the saved model,
 * then the demo page (unless `demoPage` is false, or the weights are too big
 * to carry inside a page), then manifest.json last: a folder whose manifest
 * reads was written whole.
 */
export async function writeExportFiles(
  runDir: string,
  files: ExportFiles,
  renderDemoPage: DemoPageRenderer,
  relativeDir = MODEL_DIR,
): Promise<void> {
  const dir = path.join(runDir, relativeDir);
  await writeFileAtomic(path.join(dir, LABELS_FILE), JSON.stringify(files.labels, null, 2) + '\n');
  await writeFileAtomic(path.join(dir, PREPROCESSING_FILE), JSON.stringify(files.preprocessing, null, 2) + '\n');
  await writeFileAtomic(path.join(dir, PROBE_FILE), JSON.stringify(files.probe) + '\n');
  if (files.anomaly) await writeMemoryBank(dir, files.anomaly.bank, files.anomaly);
  if (files.decision) await writeDecisionFile(dir, files.decision);
  if (files.demoPage !== false)
    await writeDemoPage(dir, writeFileAtomic, renderDemoPage, {
      always: files.demoPage === true,
      ...(files.task ? { task: files.task } : {}),
      ...(files.decision ? { decision: files.decision } : {}),
    });
  await writeFolderManifest(dir);
}

const finite = (options: { minimum?: number; exclusiveMinimum?: number } = {}) =>
  Type.Number({ minimum: -1e9, maximum: 1e9, ...options });
const ImagePreprocessingSchema = Type.Object({
  kind: Type.Literal('image'),
  inputSize: Type.Tuple([
    Type.Integer({ minimum: 1, maximum: MODEL_FOLDER_LIMITS.inputSide }),
    Type.Integer({ minimum: 1, maximum: MODEL_FOLDER_LIMITS.inputSide }),
  ]),
  channels: Type.Union([Type.Literal(1), Type.Literal(3)]),
  grayscaleToRgb: Type.Boolean(),
  fit: Type.Union([Type.Literal('fill'), Type.Literal('cover'), Type.Literal('contain')]),
  scale: Type.Array(finite(), { minItems: 1, maxItems: 3 }),
  offset: Type.Array(finite(), { minItems: 1, maxItems: 3 }),
  mean: Type.Array(finite(), { minItems: 1, maxItems: 3 }),
  std: Type.Array(finite({ exclusiveMinimum: 0 }), { minItems: 1, maxItems: 3 }),
  description: Type.String({ maxLength: 10_000 }),
});
const TabularPreprocessingSchema = Type.Object({
  kind: Type.Literal('tabular'),
  columns: Type.Array(Type.String({ maxLength: 1000 }), { minItems: 1, maxItems: MODEL_FOLDER_LIMITS.columns }),
  mean: Type.Array(finite(), { maxItems: MODEL_FOLDER_LIMITS.columns }),
  std: Type.Array(finite({ exclusiveMinimum: 0 }), { maxItems: MODEL_FOLDER_LIMITS.columns }),
  description: Type.String({ maxLength: 10_000 }),
});
const PreprocessingSchema = Type.Union([ImagePreprocessingSchema, TabularPreprocessingSchema]);
const LabelsSchema = Type.Array(Type.String({ maxLength: MODEL_FOLDER_LIMITS.labelLength }), {
  minItems: 1,
  maxItems: MODEL_FOLDER_LIMITS.classes,
});
const ProbeSchema = Type.Object({
  split: Type.String({ maxLength: 100 }),
  indexes: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: MODEL_FOLDER_LIMITS.probeRows }),
  examples: Type.Array(Type.String({ maxLength: 10_000 }), { maxItems: MODEL_FOLDER_LIMITS.probeRows }),
  predictions: Type.Array(Type.Array(finite()), { maxItems: MODEL_FOLDER_LIMITS.probeRows }),
});

/** preprocessing.json checked field by field: the kind, a bounded input size, channels, finite numbers, one per channel (or column). */
export function parsePreprocessing(bytes: Uint8Array, file: string): Preprocessing {
  const value = parseJson(bytes, file);
  const wrong = firstMismatch(PreprocessingSchema, value);
  const hint = `preprocessing.json says how inputs are prepared: kind image (inputSize up to ${MODEL_FOLDER_LIMITS.inputSide}×${MODEL_FOLDER_LIMITS.inputSide}, channels 1 or 3, finite numbers) or tabular; ${DAMAGED_HINT}`;
  if (wrong) {
    // The union's own error says only "expected union value": say which member's field is wrong.
    const kind = (value as { kind?: unknown } | null)?.kind;
    const member =
      kind === 'image' ? ImagePreprocessingSchema : kind === 'tabular' ? TabularPreprocessingSchema : undefined;
    throw new UserError(
      `${file} is not a valid preprocessing file (${member ? firstMismatch(member, value) : 'its kind is neither image nor tabular'})`,
      [],
      hint,
    );
  }
  const pre = value as Preprocessing;
  const perValue = pre.kind === 'image' ? pre.channels : pre.columns.length;
  const lists: Record<string, number[]> =
    pre.kind === 'image'
      ? { scale: pre.scale, offset: pre.offset, mean: pre.mean, std: pre.std }
      : { mean: pre.mean, std: pre.std };
  for (const [name, list] of Object.entries(lists)) {
    if (list.length !== perValue && !(pre.kind === 'image' && list.length === 1)) {
      throw new UserError(
        `${file}: ${name} has ${list.length} values for ${perValue} ${pre.kind === 'image' ? 'channels' : 'columns'}`,
        [],
        hint,
      );
    }
  }
  return pre;
}

/** labels.json: a list of class names (strings), as many as the model has outputs (checked once the model is known). */
export function parseLabels(bytes: Uint8Array, file: string): string[] {
  const value = parseJson(bytes, file);
  const wrong = firstMismatch(LabelsSchema, value);
  if (wrong)
    throw new UserError(
      `${file} is not a list of class names (${wrong})`,
      [],
      `labels.json is a JSON list of strings, one per class, up to ${MODEL_FOLDER_LIMITS.labelLength} characters each; ${DAMAGED_HINT}`,
    );
  return value as string[];
}

function parseProbe(bytes: Uint8Array, file: string, classes: number): ExportFiles['probe'] {
  const value = parseJson(bytes, file);
  const wrong = firstMismatch(ProbeSchema, value);
  if (wrong) throw new UserError(`${file} is not a valid probe (${wrong})`, [], DAMAGED_HINT);
  const probe = value as ExportFiles['probe'];
  const rows = probe.predictions.length;
  if (
    probe.indexes.length !== rows ||
    probe.examples.length !== rows ||
    probe.predictions.some((p) => p.length !== classes)
  ) {
    throw new UserError(
      `${file} does not fit the model: ${rows} predictions of ${classes} classes each, for ${probe.examples.length} examples`,
      [],
      DAMAGED_HINT,
    );
  }
  return probe;
}

/** What a run exported besides the weights: its class names, how inputs are prepared, and the probe. */
export interface ExportedModelInfo {
  dir: string;
  labels: string[];
  preprocessing: Preprocessing;
  probe?: ExportFiles['probe'];
  /** decision.json: the rule fitted on validation that turns the model's probabilities into its answer. */
  decision?: DecisionRule;
  /** The IO handler that loads this folder's model from the bytes read (and verified) here. */
  handler: io.IOHandler;
  /** Whether every file used was checked against manifest.json; false for a folder without one (a note says so). */
  verified: boolean;
  /** Something the caller should tell the user (a folder without a manifest). */
  note?: string;
}

/** Whether `dir` itself looks like an exported model folder (it has a model.json). */
export async function isModelFolder(dir: string): Promise<boolean> {
  return lstat(path.join(dir, MODEL_FILE)).then(
    () => true,
    () => false,
  );
}

/**
 * An exported model folder, read without trust: every file it needs is
 * checked against manifest.json (size and sha256) and the bytes checked are
 * the bytes used; then each is checked for what it must hold. A folder
 * without a manifest (exported before tlpipe wrote one, or copied without
 * it) is read with the same checks but no digests, and `note` says so.
 * Anything wrong is a UserError naming the file.
 */
export async function readExportedModel(dir: string): Promise<ExportedModelInfo> {
  const what = 'exported model';
  const needed = [MODEL_FILE, LABELS_FILE, PREPROCESSING_FILE];
  const first = await readVerifiedFiles(dir, needed, { kind: 'json', what });
  let files: Map<string, Buffer>;
  let verified = true;
  let note: string | undefined;
  if (first.ok) {
    files = first.files;
    const modelJson = parseModelJson(files.get(MODEL_FILE)!, path.join(dir, MODEL_FILE));
    const more = [
      ...new Set(weightFileNames(modelJson, dir, path.join(dir, MODEL_FILE))),
      ...(first.manifest.files[PROBE_FILE] ? [PROBE_FILE] : []),
      ...(Object.hasOwn(first.manifest.files, DECISION_FILE) ? [DECISION_FILE] : []),
    ];
    // A decision.json the manifest does not list was put there after the export: it would change every answer, unchecked.
    if (!Object.hasOwn(first.manifest.files, DECISION_FILE) && (await present(dir, DECISION_FILE)))
      throw new UserError(
        `${path.join(dir, DECISION_FILE)} is not listed in ${MANIFEST_FILE}, so it was added or kept after the model was exported`,
        [],
        `remove it, or run the pipeline again with the evaluate: keys that fit it; ${DAMAGED_HINT}`,
      );
    const rest = await readVerifiedFiles(dir, more, { kind: 'binary', what });
    if (!rest.ok) throw new UserError(rest.problem, [], DAMAGED_HINT);
    for (const [name, bytes] of rest.files) files.set(name, bytes);
  } else if (first.missingManifest) {
    verified = false;
    note = `${path.join(dir, MANIFEST_FILE)} is missing, so the model's files cannot be checked for damage (it was exported before tlpipe wrote manifests, or copied without it); its files were checked for what they must hold, and used`;
    files = new Map();
    for (const name of needed)
      files.set(
        name,
        await readBackFile(dir, name, { what: `${what} file`, kind: 'json', hint: DAMAGED_HINT }).catch(
          missingIsUserError(dir, name),
        ),
      );
    // Optional: absent is fine, but present and unreadable (a FIFO, a link out) is refused like the others.
    const probe = await readBackIfPresent(dir, PROBE_FILE, { what: `${what} file`, kind: 'json', hint: DAMAGED_HINT });
    if (probe) files.set(PROBE_FILE, probe);
    const decision = await readBackIfPresent(dir, DECISION_FILE, {
      what: `${what} file`,
      kind: 'json',
      maxBytes: DECISION_FILE_LIMIT,
      hint: DAMAGED_HINT,
    });
    if (decision) files.set(DECISION_FILE, decision);
  } else {
    const missingModel = first.file === path.join(dir, MODEL_FILE) && /is missing$/.test(first.problem);
    throw new UserError(
      first.problem,
      [],
      missingModel
        ? 'a model folder holds model.json, weights.bin, labels.json, preprocessing.json and manifest.json'
        : DAMAGED_HINT,
    );
  }
  const labels = parseLabels(files.get(LABELS_FILE)!, path.join(dir, LABELS_FILE));
  const preprocessing = parsePreprocessing(files.get(PREPROCESSING_FILE)!, path.join(dir, PREPROCESSING_FILE));
  const probeBytes = files.get(PROBE_FILE);
  // An anomaly model's probe holds each example's score, one number, not a row per class.
  const probeWidth = (await isAnomalyModelFolder(dir)) ? 1 : labels.length;
  const probe = probeBytes ? parseProbe(probeBytes, path.join(dir, PROBE_FILE), probeWidth) : undefined;
  const decisionBytes = files.get(DECISION_FILE);
  if (decisionBytes && decisionBytes.byteLength > DECISION_FILE_LIMIT)
    throw new UserError(
      `${path.join(dir, DECISION_FILE)} is ${decisionBytes.byteLength} bytes, far more than a decision rule`,
      [],
      DAMAGED_HINT,
    );
  const decision = decisionBytes ? parseDecision(decisionBytes, path.join(dir, DECISION_FILE), labels) : undefined;
  return {
    dir,
    labels,
    preprocessing,
    ...(probe ? { probe } : {}),
    ...(decision ? { decision } : {}),
    handler: fileModelHandler(dir, verified ? files : undefined),
    verified,
    ...(note ? { note } : {}),
  };
}

const present = (dir: string, name: string): Promise<boolean> =>
  lstat(path.join(dir, name)).then(
    () => true,
    () => false,
  );

const missingIsUserError =
  (dir: string, name: string) =>
  (error: NodeJS.ErrnoException): never => {
    if (error instanceof UserError) throw error;
    throw new UserError(
      `${path.join(dir, name)} is missing`,
      [],
      'a model folder holds model.json, weights.bin, labels.json, preprocessing.json and manifest.json; only a completed run has a whole one',
    );
  };
