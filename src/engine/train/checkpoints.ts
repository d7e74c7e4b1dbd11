import type { CoresetRecord, MemoryBank } from '../anomaly/memory-bank.js';
import type { PatchFeatureSettings } from '../anomaly/patch-features.js';
import type { AnomalyThreshold } from '../anomaly/threshold.js';
import tf from '../tfjs.cjs';
import { UserError } from '../../diagnostics/user-error.js';
import type { Plan, PlanStage } from '../../plan/types.js';
import type { CheckpointSpec, TaskName } from '../../format/types.js';
import type { Preprocessing } from '../data/preprocess.js';
import type { DecisionRule } from '../evaluate/decision-rule.js';
import type { EpochMetrics } from '../events.js';
import { checkpointModelProblem, trainerStateProblem, weightsFitProblem } from './checkpoint-checks.js';
import { isImprovement, monitoredValue } from './monitors.js';
import { optimizerState, type OptimizerSnapshot } from './optimizers.js';
import type { DomainClassifierSnapshot } from '../adapt/domain-classifier.js';
import type { EpochEnd, StageOutcome, StageState } from './train-stage.js';

/** What the exported model folder holds beside model.json and its weights. */
export interface ExportFiles {
  labels: string[];
  preprocessing: Preprocessing;
  /** Test examples and the model's outputs on them, so anyone loading the model can check their preprocessing. */
  probe: { split: string; indexes: number[]; examples: string[]; predictions: number[][] };
  /** index.html beside the model: always (true), never (false), or when the weights are small enough (absent). */
  demoPage?: boolean;
  /** The plan's task where it is not classification: the demo page shows that task's view (the mask over the picked image, for segmentation). */
  task?: TaskName;
  /** `task: anomaly`: the memory bank and threshold the exported base's patches are scored against. */
  anomaly?: AnomalyExport;
  /** `evaluate: calibrate / threshold / abstain`: the decision rule fitted on validation (decision.json). */
  decision?: DecisionRule;
}

/** What an anomaly model folder holds beside the base: the bank, and how a test image's patches are made and judged. */
export interface AnomalyExport {
  bank: MemoryBank;
  features: PatchFeatureSettings & { base: string; imageSize: [number, number]; grid: [number, number]; depth: number };
  threshold: AnomalyThreshold;
  coreset: CoresetRecord;
  scoring: { neighbours: number };
  /** The run's class names in label order, and the normal ones: evaluating the folder alone needs them. */
  classes: { names: string[]; normal: string[] };
}

/**
 * Where the engine puts what it produces. The run store implements it (one
 * module per run-folder file); the engine never touches files itself.
 */
export interface RunOutput {
  /** A tfjs IO handler that saves to (and loads from) a folder inside the run directory. */
  modelHandler(relativeDir: string): tf.io.IOHandler;
  writeFile(relativePath: string, data: string | Uint8Array): Promise<void>;
  /** Rejects with ENOENT when the file is absent. */
  readFile(relativePath: string): Promise<Uint8Array>;
  /** Moves a finished folder into place in one rename, replacing any folder there. */
  replaceDir(fromRelative: string, toRelative: string): Promise<void>;
  remove(relativePath: string): Promise<void>;
  /**
   * checkpoints/index.json, its shape checked field by field: no index when
   * there is none; a problem (and no index) when it is damaged, unreadable
   * or names a folder other than checkpoints/epoch-NNN (it is then rebuilt).
   */
  readCheckpointIndex(): Promise<{ index?: CheckpointIndex; problem?: string }>;
  /** Writes the manifest of a finished folder (the sha256 and size of each of its files): last, before it is renamed into place. */
  sealDir(relativeDir: string): Promise<void>;
  /** The named files of a sealed folder, each checked against its manifest; the bytes returned are the bytes checked. */
  readSealedFiles(relativeDir: string, names: readonly string[]): Promise<SealedFiles>;
  /** The names in a folder of the run directory; none when it does not exist. */
  listDir(relativeDir: string): Promise<string[]>;
  writeCheckpointIndex(index: CheckpointIndex): Promise<void>;
  /** Into model/, or another exported model's folder (model-uint8/). */
  writeExportFiles(files: ExportFiles, relativeDir?: string): Promise<void>;
}

/** What readSealedFiles found: the verified bytes, or which file is wrong and how, in a person's words. */
export type SealedFiles = { ok: true; files: Map<string, Uint8Array> } | { ok: false; problem: string; file?: string };

export interface StageSummary extends StageOutcome {
  name: string;
  /** Epochs the plan allowed. */
  epochs: number;
}

export interface CheckpointEntry {
  dir: string;
  epoch: number;
  stage: string;
}

/**
 * checkpoints/index.json, rewritten atomically after each checkpoint is
 * complete: the commit point. A checkpoint folder it does not name is
 * incomplete or pruned, and resume ignores it.
 */
export interface CheckpointIndex {
  formatVersion: 1;
  latest: CheckpointEntry | null;
  /** The best epoch of the whole run by `checkpoints.monitor`. */
  best: (CheckpointEntry & { monitor: string; value: number }) | null;
  /** The best epoch of the latest stage, kept while its early stopping may restore it. */
  stageBest: CheckpointEntry | null;
  /** Every checkpoint on disk, oldest first. */
  kept: CheckpointEntry[];
}

/** trainer-state.json: everything beyond the weights that resuming needs. */
export interface TrainerState {
  formatVersion: 1;
  stage: string;
  stageIndex: number;
  epoch: number;
  stageState: StageState;
  /** head: the head's weights only (the base is still the plan's); full: base and head. */
  model: 'head' | 'full';
  metrics: EpochMetrics;
  /** Every random stream's state after this epoch. */
  random: Record<string, number>;
  /** Outcomes of the stages finished before this one. */
  completedStages: StageSummary[];
  /** Per parameter group, where its optimizer's weights are in optimizer.bin. */
  optimizers: {
    group: string;
    weightSpecs: tf.io.WeightsManifestEntry[];
    byteOffset: number;
    byteLength: number;
    accBeta?: [number, number];
  }[];
  /**
   * `adapt.method: dann`: the domain classifier's weights (in layer order,
   * named w0, w1, …) and its optimizer's state, in optimizer.bin after the
   * groups' optimizers.
   */
  domainClassifier?: {
    weights: ByteRange;
    optimizer: ByteRange & { accBeta?: [number, number] };
  };
}

/** Tensors in a byte range of optimizer.bin. */
export interface ByteRange {
  weightSpecs: tf.io.WeightsManifestEntry[];
  byteOffset: number;
  byteLength: number;
}

const EMPTY_INDEX: CheckpointIndex = { formatVersion: 1, latest: null, best: null, stageBest: null, kept: [] };

export function checkpointDir(epoch: number): string {
  return `checkpoints/epoch-${String(epoch).padStart(3, '0')}`;
}

/**
 * The checkpoints to keep: the newest `keepLast` plus the protected ones
 * (the run's best, a stage best early stopping may restore). Pure.
 */
export function checkpointsToKeep(
  kept: CheckpointEntry[],
  keepLast: number,
  protectedDirs: ReadonlySet<string>,
): { keep: CheckpointEntry[]; remove: CheckpointEntry[] } {
  const newest = new Set(kept.slice(-keepLast).map((c) => c.dir));
  const keep = kept.filter((c) => newest.has(c.dir) || protectedDirs.has(c.dir));
  return { keep, remove: kept.filter((c) => !keep.includes(c)) };
}

/** Saves checkpoints when due and prunes old ones; its index survives a resume. */
export class CheckpointWriter {
  private index: CheckpointIndex;

  constructor(
    private readonly output: RunOutput,
    private readonly spec: CheckpointSpec,
    index?: CheckpointIndex,
  ) {
    this.index = index ?? EMPTY_INDEX;
  }

  /**
   * After an epoch: saves when the epoch is a multiple of `every`, ends its
   * stage, is the run's new best, or is a stage best that early stopping may
   * restore. Returns the folder written, if any.
   */
  async afterEpoch(
    end: EpochEnd,
    context: {
      stage: PlanStage;
      model: tf.LayersModel;
      kind: 'head' | 'full';
      random: Record<string, number>;
      completedStages: StageSummary[];
    },
  ): Promise<string | undefined> {
    const { metrics, state } = end;
    const value = metrics[this.spec.monitor];
    const runBest =
      this.spec.best && value !== undefined && isImprovement(this.spec.mode, 0, value, this.index.best?.value ?? null);
    const due = state.done || metrics.epoch % this.spec.every === 0 || runBest || end.stageBest;
    if (!due) return undefined;

    const entry: CheckpointEntry = {
      dir: checkpointDir(metrics.epoch),
      epoch: metrics.epoch,
      stage: context.stage.name,
    };
    const partial = `checkpoints/.partial-epoch-${String(metrics.epoch).padStart(3, '0')}`;
    await context.model.save(this.output.modelHandler(partial));
    const snapshots = await Promise.all(end.optimizers.map((o) => optimizerState(o.optimizer)));
    const encoded = await Promise.all(snapshots.map((s) => tf.io.encodeWeights(s.weights)));
    // getWeights makes a fresh scalar for the iteration count; the rest are the optimizer's own variables.
    tf.dispose(snapshots.flatMap((s) => s.weights.filter((w) => w.name === 'iter').map((w) => w.tensor)));
    const optimizers: TrainerState['optimizers'] = [];
    let offset = 0;
    encoded.forEach(({ data, specs }, i) => {
      const byteLength = (data as ArrayBuffer).byteLength;
      optimizers.push({
        group: end.optimizers[i]!.group.name,
        weightSpecs: specs,
        byteOffset: offset,
        byteLength,
        ...(snapshots[i]!.accBeta ? { accBeta: snapshots[i]!.accBeta } : {}),
      });
      offset += byteLength;
    });
    const classifier = end.domainClassifier
      ? await encodeClassifier(await end.domainClassifier.snapshot(), offset)
      : undefined;
    await this.output.writeFile(
      `${partial}/optimizer.bin`,
      Buffer.concat([...encoded.map((e) => new Uint8Array(e.data as ArrayBuffer)), ...(classifier?.bytes ?? [])]),
    );
    const trainerState: TrainerState = {
      formatVersion: 1,
      stage: context.stage.name,
      stageIndex: context.stage.index,
      epoch: metrics.epoch,
      stageState: state,
      model: context.kind,
      metrics,
      random: context.random,
      completedStages: context.completedStages,
      optimizers,
      ...(classifier ? { domainClassifier: classifier.state } : {}),
    };
    await this.output.writeFile(`${partial}/trainer-state.json`, JSON.stringify(trainerState, null, 2) + '\n');
    // Last: a checkpoint whose manifest reads was whole, and every later read checks each file against it.
    await this.output.sealDir(partial);
    await this.output.replaceDir(partial, entry.dir);

    const previous = this.index;
    const stageBest = end.stageBest ? entry : previous.stageBest?.stage === entry.stage ? previous.stageBest : null;
    const best = runBest
      ? { ...entry, monitor: this.spec.monitor, value: monitoredValue(this.spec.monitor, metrics) }
      : previous.best;
    const protectedDirs = new Set([best?.dir, stageBest?.dir].filter((d): d is string => d !== undefined));
    const { keep, remove } = checkpointsToKeep(
      [...previous.kept.filter((c) => c.dir !== entry.dir), entry],
      this.spec.keepLast,
      protectedDirs,
    );
    this.index = { formatVersion: 1, latest: entry, best, stageBest, kept: keep };
    await this.output.writeCheckpointIndex(this.index);
    // Pruned only after the index no longer names them.
    for (const old of remove) await this.output.remove(old.dir);
    return entry.dir;
  }
}

/** The domain classifier's weights and optimizer state encoded from `offset` in optimizer.bin; disposes the snapshot. */
async function encodeClassifier(
  snapshot: DomainClassifierSnapshot,
  offset: number,
): Promise<{ bytes: Uint8Array[]; state: NonNullable<TrainerState['domainClassifier']> }> {
  try {
    const weights = await tf.io.encodeWeights(snapshot.weights.map((tensor, i) => ({ name: `w${i}`, tensor })));
    const optimizer = await tf.io.encodeWeights(snapshot.optimizer.weights);
    const weightBytes = (weights.data as ArrayBuffer).byteLength;
    const optimizerBytes = (optimizer.data as ArrayBuffer).byteLength;
    return {
      bytes: [new Uint8Array(weights.data as ArrayBuffer), new Uint8Array(optimizer.data as ArrayBuffer)],
      state: {
        weights: { weightSpecs: weights.specs, byteOffset: offset, byteLength: weightBytes },
        optimizer: {
          weightSpecs: optimizer.specs,
          byteOffset: offset + weightBytes,
          byteLength: optimizerBytes,
          ...(snapshot.optimizer.accBeta ? { accBeta: snapshot.optimizer.accBeta } : {}),
        },
      },
    };
  } finally {
    // The weights are copies; of the optimizer's, only the iteration count is a fresh tensor.
    tf.dispose([
      ...snapshot.weights,
      ...snapshot.optimizer.weights.filter((w) => w.name === 'iter').map((w) => w.tensor),
    ]);
  }
}

const CHECKPOINT_FILES = ['model.json', 'weights.bin', 'optimizer.bin', 'trainer-state.json'] as const;

/** A checkpoint whose every file matched its manifest and whose trainer state fits the plan: the bytes, not yet tensors. */
export interface VerifiedCheckpoint {
  entry: CheckpointEntry;
  state: TrainerState;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: Uint8Array;
  optimizerData: Uint8Array;
}

const CHECKPOINT_NAME = /^epoch-(\d{3,6})$/;

/**
 * One checkpoint folder read back: each file checked against the manifest
 * (a flipped byte, a file cut short or missing), then model.json and
 * trainer-state.json checked against the plan and against the sizes of the
 * binary files. A problem names the file and says what is wrong.
 */
export async function readCheckpoint(
  output: RunOutput,
  dir: string,
  plan: Plan,
): Promise<{ ok: true; checkpoint: VerifiedCheckpoint } | { ok: false; problem: string }> {
  const sealed = await output.readSealedFiles(dir, CHECKPOINT_FILES);
  if (!sealed.ok) return { ok: false, problem: sealed.problem };
  const file = (name: (typeof CHECKPOINT_FILES)[number]): Uint8Array => sealed.files.get(name)!;
  const json = (name: 'model.json' | 'trainer-state.json'): unknown => {
    try {
      return JSON.parse(Buffer.from(file(name)).toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  };
  const where = (problem: string): string => `${dir}/${problem}`;
  const stateProblem = trainerStateProblem(json('trainer-state.json'), plan, dir, file('optimizer.bin').byteLength);
  if (stateProblem) return { ok: false, problem: where(stateProblem) };
  const model = checkpointModelProblem(json('model.json'), file('weights.bin').byteLength);
  if (!model.specs) return { ok: false, problem: where(model.problem!) };
  const state = json('trainer-state.json') as TrainerState;
  return {
    ok: true,
    checkpoint: {
      entry: { dir, epoch: state.epoch, stage: state.stage },
      state,
      weightSpecs: model.specs,
      weightData: file('weights.bin'),
      optimizerData: file('optimizer.bin'),
    },
  };
}

/** The run's best checkpoint by `checkpoints.monitor` among the intact ones given, oldest first. */
function bestOf(checkpoints: readonly VerifiedCheckpoint[], spec: CheckpointSpec): CheckpointIndex['best'] {
  let best: CheckpointIndex['best'] = null;
  for (const c of checkpoints) {
    const value = c.state.metrics[spec.monitor];
    if (spec.best && value !== undefined && isImprovement(spec.mode, 0, value, best?.value ?? null))
      best = { ...c.entry, monitor: spec.monitor, value: monitoredValue(spec.monitor, c.state.metrics) };
  }
  return best;
}

/** The epoch-NNN folders on disk, newest first. */
async function checkpointFolders(output: RunOutput): Promise<CheckpointEntry[]> {
  const entries: CheckpointEntry[] = [];
  for (const name of await output.listDir('checkpoints')) {
    const match = CHECKPOINT_NAME.exec(name);
    if (match) entries.push({ dir: `checkpoints/${name}`, epoch: Number(match[1]), stage: '' });
  }
  return entries.sort((a, b) => b.epoch - a.epoch);
}

/** What resuming a run can continue from, and what it found on the way. */
export interface ResumeChoice {
  /** The index to continue writing: its latest is the checkpoint chosen. */
  index?: CheckpointIndex;
  /** The newest intact checkpoint, and the stage's best one when early stopping may restore it. */
  point?: VerifiedCheckpoint & { stageBest?: VerifiedCheckpoint };
  /** What was damaged and what was done about it, for the run's log and the user. */
  warnings: string[];
}

/**
 * Where a resumed run continues: the newest checkpoint that is intact. The
 * index's latest comes first, then the other checkpoints it keeps, newest
 * first (with no readable index, the epoch-NNN folders on disk); a damaged
 * one is passed over, saying which file is wrong, and the run continues from
 * an earlier epoch, recomputing the ones after it exactly as it did the
 * first time. With early stopping that may restore a stage's best epoch,
 * that epoch's checkpoint must be intact too. When no checkpoint is intact
 * the run starts over from its first epoch, as a run killed before its first
 * checkpoint does, which gives the same result, only later.
 */
export async function chooseResumePoint(output: RunOutput, plan: Plan): Promise<ResumeChoice> {
  const warnings: string[] = [];
  const read = await output.readCheckpointIndex();
  if (read.problem) warnings.push(read.problem);
  const candidates = read.index
    ? [
        ...new Map(
          [read.index.latest, ...read.index.kept]
            .filter((c): c is CheckpointEntry => c !== null)
            .map((c) => [c.dir, c]),
        ).values(),
      ].sort((a, b) => b.epoch - a.epoch)
    : await checkpointFolders(output);
  const checked = new Map<string, VerifiedCheckpoint | undefined>();
  const verify = async (dir: string): Promise<VerifiedCheckpoint | undefined> => {
    if (checked.has(dir)) return checked.get(dir);
    const result = await readCheckpoint(output, dir, plan);
    if (!result.ok) warnings.push(`checkpoint ${dir} is damaged: ${result.problem}`);
    checked.set(dir, result.ok ? result.checkpoint : undefined);
    return result.ok ? result.checkpoint : undefined;
  };
  for (const candidate of candidates) {
    const checkpoint = await verify(candidate.dir);
    if (!checkpoint) continue;
    const stage = plan.stages[checkpoint.state.stageIndex]!;
    const bestEpoch = checkpoint.state.stageState.earlyStopping?.bestEpoch;
    let stageBest: VerifiedCheckpoint | undefined;
    if (stage.earlyStopping?.restoreBest && bestEpoch !== undefined && bestEpoch >= stage.firstEpoch) {
      stageBest = await verify(checkpointDir(bestEpoch));
      if (!stageBest) {
        warnings.push(
          `checkpoint ${candidate.dir} needs the stage's best epoch ${bestEpoch} (early stopping restores it), whose checkpoint is not intact; going back further`,
        );
        continue;
      }
    }
    const isBefore = (c: CheckpointEntry): boolean => c.epoch < checkpoint.entry.epoch;
    const damaged = (dir: string): boolean => checked.has(dir) && checked.get(dir) === undefined;
    // The index's best stays when it is at or before the chosen epoch and intact; else (and with no index) it is found
    // again among the intact older checkpoints. The older checkpoints an index keeps stay unless found damaged.
    const indexBest = read.index?.best;
    const keepBest =
      indexBest && indexBest.epoch <= checkpoint.entry.epoch && (await verify(indexBest.dir)) !== undefined;
    const older: VerifiedCheckpoint[] = [];
    if (!keepBest) {
      const before = read.index ? read.index.kept.filter(isBefore) : candidates.filter(isBefore).reverse();
      for (const c of before)
        older.push(...[await verify(c.dir)].filter((v): v is VerifiedCheckpoint => v !== undefined));
    }
    const kept = read.index ? read.index.kept.filter((c) => isBefore(c) && !damaged(c.dir)) : older.map((c) => c.entry);
    const best = keepBest ? indexBest : bestOf([...older, checkpoint], plan.checkpoints);
    const index: CheckpointIndex = {
      formatVersion: 1,
      latest: checkpoint.entry,
      best,
      stageBest: stageBest?.entry ?? null,
      kept: [...kept, checkpoint.entry],
    };
    if (checkpoint.entry.dir !== candidates[0]!.dir)
      warnings.push(
        `resuming from ${checkpoint.entry.dir} (epoch ${checkpoint.entry.epoch}), the newest intact checkpoint; the epochs after it are trained again`,
      );
    if (!read.index)
      warnings.push(
        `checkpoints/index.json was missing or damaged: rebuilt from ${older.length + 1} complete checkpoint(s)`,
      );
    const fellBack = read.index?.latest?.dir !== checkpoint.entry.dir;
    if (fellBack) await output.writeCheckpointIndex(index);
    return { index, point: { ...checkpoint, ...(stageBest ? { stageBest } : {}) }, warnings };
  }
  if (candidates.length > 0)
    warnings.push('no checkpoint of this run is intact: it starts over from its first epoch, in the same folder');
  return { warnings };
}

/** A verified checkpoint's model weights by name, for `LayersModel.loadWeights`, after checking they fit the model. */
export function checkpointWeights(checkpoint: VerifiedCheckpoint, model: tf.LayersModel): tf.NamedTensorMap {
  const problem = weightsFitProblem(model, checkpoint.weightSpecs);
  if (problem)
    throw new UserError(
      `${checkpoint.entry.dir}/${problem}`,
      [],
      "the checkpoint does not belong to this run's plan; delete the checkpoints folder to start the run over",
    );
  return tf.io.decodeWeights(arrayBufferOf(checkpoint.weightData), checkpoint.weightSpecs);
}

/** Each parameter group's optimizer state, decoded from optimizer.bin at the ranges the (checked) trainer state gives. */
export function checkpointOptimizers(checkpoint: VerifiedCheckpoint): OptimizerSnapshot[] {
  return checkpoint.state.optimizers.map((o): OptimizerSnapshot => {
    const named = tf.io.decodeWeights(
      arrayBufferOf(checkpoint.optimizerData.subarray(o.byteOffset, o.byteOffset + o.byteLength)),
      o.weightSpecs,
    );
    return {
      weights: o.weightSpecs.map((spec) => ({ name: spec.name, tensor: named[spec.name]! })),
      ...(o.accBeta ? { accBeta: o.accBeta } : {}),
    };
  });
}

/** `adapt.method: dann`: the domain classifier's weights and optimizer state, from the ranges the (checked) trainer state gives. */
export function checkpointDomainClassifier(checkpoint: VerifiedCheckpoint): DomainClassifierSnapshot | undefined {
  const stored = checkpoint.state.domainClassifier;
  if (!stored) return undefined;
  const decode = (range: ByteRange): { name: string; tensor: tf.Tensor }[] => {
    const named = tf.io.decodeWeights(
      arrayBufferOf(checkpoint.optimizerData.subarray(range.byteOffset, range.byteOffset + range.byteLength)),
      range.weightSpecs,
    );
    return range.weightSpecs.map((spec) => ({ name: spec.name, tensor: named[spec.name]! }));
  };
  return {
    weights: decode(stored.weights).map((w) => w.tensor),
    optimizer: {
      weights: decode(stored.optimizer),
      ...(stored.optimizer.accBeta ? { accBeta: stored.optimizer.accBeta } : {}),
    },
  };
}

const arrayBufferOf = (bytes: Uint8Array): ArrayBuffer =>
  bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
