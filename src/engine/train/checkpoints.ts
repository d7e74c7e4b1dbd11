import * as tf from '@tensorflow/tfjs';
import type { PlanStage } from '../../plan/types.js';
import type { CheckpointSpec } from '../../format/types.js';
import type { Preprocessing } from '../data/preprocess.js';
import type { EpochMetrics } from '../events.js';
import { isImprovement, monitoredValue } from './monitors.js';
import { optimizerState, type EpochEnd, type OptimizerSnapshot, type StageOutcome, type StageState } from './train-stage.js';

/** What the exported model folder holds beside model.json and its weights. */
export interface ExportFiles {
  labels: string[];
  preprocessing: Preprocessing;
  /** Test examples and the model's outputs on them, so anyone loading the model can check their preprocessing. */
  probe: { split: string; indexes: number[]; examples: string[]; predictions: number[][] };
  /** index.html beside the model: always (true), never (false), or when the weights are small enough (absent). */
  demoPage?: boolean;
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
  /** checkpoints/index.json: undefined when there is none, or when it is damaged (it is then rebuilt). */
  readCheckpointIndex(): Promise<CheckpointIndex | undefined>;
  /** The names in a folder of the run directory; none when it does not exist. */
  listDir(relativeDir: string): Promise<string[]>;
  writeCheckpointIndex(index: CheckpointIndex): Promise<void>;
  /** Into model/, or another exported model's folder (model-uint8/). */
  writeExportFiles(files: ExportFiles, relativeDir?: string): Promise<void>;
}

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
  optimizers: { group: string; weightSpecs: tf.io.WeightsManifestEntry[]; byteOffset: number; byteLength: number; accBeta?: [number, number] }[];
}

const EMPTY_INDEX: CheckpointIndex = { formatVersion: 1, latest: null, best: null, stageBest: null, kept: [] };

export function checkpointDir(epoch: number): string {
  return `checkpoints/epoch-${String(epoch).padStart(3, '0')}`;
}

/**
 * The checkpoints to keep: the newest `keepLast` plus the protected ones
 * (the run's best, a stage best early stopping may restore). Pure.
 */
export function checkpointsToKeep(kept: CheckpointEntry[], keepLast: number, protectedDirs: ReadonlySet<string>): { keep: CheckpointEntry[]; remove: CheckpointEntry[] } {
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
  async afterEpoch(end: EpochEnd, context: { stage: PlanStage; model: tf.LayersModel; kind: 'head' | 'full'; random: Record<string, number>; completedStages: StageSummary[] }): Promise<string | undefined> {
    const { metrics, state } = end;
    const value = metrics[this.spec.monitor];
    const runBest = this.spec.best && value !== undefined && isImprovement(this.spec.mode, 0, value, this.index.best?.value ?? null);
    const due = state.done || metrics.epoch % this.spec.every === 0 || runBest || end.stageBest;
    if (!due) return undefined;

    const entry: CheckpointEntry = { dir: checkpointDir(metrics.epoch), epoch: metrics.epoch, stage: context.stage.name };
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
      optimizers.push({ group: end.optimizers[i]!.group.name, weightSpecs: specs, byteOffset: offset, byteLength, ...(snapshots[i]!.accBeta ? { accBeta: snapshots[i]!.accBeta } : {}) });
      offset += byteLength;
    });
    await this.output.writeFile(`${partial}/optimizer.bin`, Buffer.concat(encoded.map((e) => new Uint8Array(e.data as ArrayBuffer))));
    const trainerState: TrainerState = {
      formatVersion: 1, stage: context.stage.name, stageIndex: context.stage.index, epoch: metrics.epoch, stageState: state,
      model: context.kind, metrics, random: context.random, completedStages: context.completedStages, optimizers,
    };
    await this.output.writeFile(`${partial}/trainer-state.json`, JSON.stringify(trainerState, null, 2) + '\n');
    await this.output.replaceDir(partial, entry.dir);

    const previous = this.index;
    const stageBest = end.stageBest ? entry : previous.stageBest?.stage === entry.stage ? previous.stageBest : null;
    const best = runBest ? { ...entry, monitor: this.spec.monitor, value: monitoredValue(this.spec.monitor, metrics) } : previous.best;
    const protectedDirs = new Set([best?.dir, stageBest?.dir].filter((d): d is string => d !== undefined));
    const { keep, remove } = checkpointsToKeep([...previous.kept.filter((c) => c.dir !== entry.dir), entry], this.spec.keepLast, protectedDirs);
    this.index = { formatVersion: 1, latest: entry, best, stageBest, kept: keep };
    await this.output.writeCheckpointIndex(this.index);
    // Pruned only after the index no longer names them.
    for (const old of remove) await this.output.remove(old.dir);
    return entry.dir;
  }
}

export interface ResumePoint {
  index: CheckpointIndex;
  dir: string;
  state: TrainerState;
  optimizers: OptimizerSnapshot[];
}

const CHECKPOINT_FILES = ['model.json', 'weights.bin', 'optimizer.bin', 'trainer-state.json'] as const;

/**
 * The run's checkpoint index. When index.json is missing or damaged (a kill
 * in the wrong instant, a hand that deleted it) but complete checkpoint
 * folders are there, the index is rebuilt from them and written, rather than
 * the run starting over and its checkpoints discarded. A folder counts only
 * when every file is there and its trainer state reads.
 */
export async function checkpointIndexOf(output: RunOutput, spec: CheckpointSpec): Promise<{ index?: CheckpointIndex; rebuiltFrom?: number }> {
  const existing = await output.readCheckpointIndex();
  if (existing) return { index: existing };
  const complete: (CheckpointEntry & { state: TrainerState })[] = [];
  for (const name of (await output.listDir('checkpoints')).filter((n) => /^epoch-\d{3,}$/.test(n)).sort()) {
    const dir = `checkpoints/${name}`;
    const files = await output.listDir(dir);
    if (!CHECKPOINT_FILES.every((f) => files.includes(f))) continue;
    try {
      const state = JSON.parse(Buffer.from(await output.readFile(`${dir}/trainer-state.json`)).toString('utf8')) as TrainerState;
      if (checkpointDir(state.epoch) === dir) complete.push({ dir, epoch: state.epoch, stage: state.stage, state });
    } catch {
      // Not complete after all.
    }
  }
  if (complete.length === 0) return {};
  complete.sort((a, b) => a.epoch - b.epoch);
  const latest = complete[complete.length - 1]!;
  const entry = ({ dir, epoch, stage }: CheckpointEntry): CheckpointEntry => ({ dir, epoch, stage });
  let best: CheckpointIndex['best'] = null;
  for (const c of complete) {
    const value = c.state.metrics[spec.monitor];
    if (spec.best && value !== undefined && isImprovement(spec.mode, 0, value, best?.value ?? null)) best = { ...entry(c), monitor: spec.monitor, value: monitoredValue(spec.monitor, c.state.metrics) };
  }
  const bestEpoch = latest.state.stageState.earlyStopping?.bestEpoch;
  const stageBest = complete.find((c) => c.stage === latest.stage && c.epoch === bestEpoch);
  const index: CheckpointIndex = { formatVersion: 1, latest: entry(latest), best, stageBest: stageBest ? entry(stageBest) : null, kept: complete.map(entry) };
  await output.writeCheckpointIndex(index);
  return { index, rebuiltFrom: complete.length };
}

/** The latest complete checkpoint of a run, or undefined when it has none. */
export async function readResumePoint(output: RunOutput): Promise<ResumePoint | undefined> {
  const index = await output.readCheckpointIndex();
  if (!index?.latest) return undefined;
  const dir = index.latest.dir;
  const state = JSON.parse(Buffer.from(await output.readFile(`${dir}/trainer-state.json`)).toString('utf8')) as TrainerState;
  const bytes = await output.readFile(`${dir}/optimizer.bin`);
  const optimizers = state.optimizers.map((o): OptimizerSnapshot => {
    const slice = bytes.slice(o.byteOffset, o.byteOffset + o.byteLength);
    const named = tf.io.decodeWeights(slice.buffer.slice(slice.byteOffset, slice.byteOffset + slice.byteLength), o.weightSpecs);
    return { weights: o.weightSpecs.map((spec) => ({ name: spec.name, tensor: named[spec.name]! })), ...(o.accBeta ? { accBeta: o.accBeta } : {}) };
  });
  return { index, dir, state, optimizers };
}

/** A checkpoint's model weights by name, for `LayersModel.loadWeights`. */
export async function checkpointWeights(output: RunOutput, dir: string): Promise<tf.NamedTensorMap> {
  const artifacts = await output.modelHandler(dir).load!();
  const data = artifacts.weightData!;
  return tf.io.decodeWeights(Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data, artifacts.weightSpecs!);
}
