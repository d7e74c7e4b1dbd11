import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import { readBackIfPresent, readBackJson } from '../platform/read-back.js';
import type { SweepSpec } from '../plan/sweep-trials.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { reserveFolderName } from './run-folder.js';
import { newestFirst } from './find-run.js';
import { makeDirs } from '../platform/make-dirs.js';
import type { TestHeadline } from './tasks/task-store.js';

/**
 * A sweep's record: runs/<pipeline>/sweeps/<NNNN>-<fp8>/. sweep.json says
 * what the sweep is (written once, when it starts, and when it ends);
 * trials/<index>.json is each trial's state, written by whoever runs the
 * trial (this process, a child, or a worker on another machine sharing the
 * folder); rungs/<epoch>/<index>.json are early termination's
 * comparisons. Every file is written whole (atomic rename).
 */
export const SWEEPS_DIR = 'sweeps';
export const SWEEP_FILE = 'sweep.json';

export type TrialStatus = 'queued' | 'running' | 'completed' | 'failed' | 'stopped' | 'duplicate';
/** A trial in one of these states is not run again by `sweep --resume`. */
export const FINAL_TRIAL_STATES: ReadonlySet<TrialStatus> = new Set(['completed', 'failed', 'stopped', 'duplicate']);

export interface SweepTrialPlan {
  index: number;
  values: Record<string, unknown>;
  /** The trial's plan fingerprint: its run folder is <NNNN>-<fingerprint[0:8]>. */
  fingerprint: string;
  /** Its epochs over all stages: early termination compares trials at rungs before the last. */
  epochs: number;
  /** Set when an earlier trial has the same plan: this one is not run. */
  duplicateOf?: number;
  /** Its plan's section digests other trials do not share (plan/plan-digest.ts): with the record's `sharedSections`, what its process compares its own plan with. */
  sections?: Record<string, string>;
}

export interface SweepRecord {
  id: string;
  /** Random, made when the sweep starts: a queue job names it, so a worker tells this sweep from another at the same path of another runs folder. */
  uid?: string;
  pipeline: string;
  /** The pipeline file, absolute. */
  file: string;
  /** The pipeline's text when the sweep started: every trial runs it, with its values set. */
  text: string;
  createdAt: string;
  status: 'running' | 'completed' | 'failed' | 'interrupted';
  spec: SweepSpec;
  trials: SweepTrialPlan[];
  /** The plan section digests every trial shares (absent in a sweep of an older tlpipe). */
  sharedSections?: Record<string, string>;
  /** How it runs: local child processes, or a queue (its address, without a password). */
  runner: { kind: 'local'; jobs: number } | { kind: 'queue'; queue: string };
  /** Values the command line set (`--set`) for every trial, before the trial's own. */
  overrides?: { path: string; value: unknown }[];
  backend?: string;
  noCache?: boolean;
  best?: { index: number; metric: number; run: string };
  endedAt?: string;
}

export interface TrialState {
  index: number;
  status: TrialStatus;
  /** `<pipeline>/<NNNN>-<fp8>`, once the trial has a run folder. */
  run?: string;
  metric?: number;
  /** val_loss at the epoch the metric is taken from: the first tie-break between trials equal on the metric. */
  valLoss?: number;
  /** The trial's test split in one line, as its task measures it (accuracy, and loss, AUROC or mean IoU). */
  test?: Omit<TestHeadline, 'examples'>;
  epochs?: number;
  seconds?: number;
  /** Why it failed or stopped. */
  reason?: string;
  /** How many times it was started (a crash is retried, resuming its run). */
  attempts: number;
  /** host:pid of the process running it. */
  by?: string;
  updatedAt: string;
}

export class SweepFolder {
  private constructor(
    readonly dir: string,
    public record: SweepRecord,
  ) {}

  /** `under`: the pipeline's folder of such records — sweeps/, or kfold/ for a k-fold run, whose folds are its trials. */
  static async create(
    runsRoot: string,
    record: Omit<SweepRecord, 'id'>,
    fingerprint: string,
    under: string = SWEEPS_DIR,
  ): Promise<SweepFolder> {
    const parent = path.join(runsRoot, record.pipeline, under);
    const id = await reserveFolderName(parent, fingerprint);
    const folder = new SweepFolder(path.join(parent, id), { id, uid: newSweepUid(), ...record });
    await makeDirs(path.join(folder.dir, 'trials'));
    await folder.save();
    return folder;
  }

  static async open(dir: string): Promise<SweepFolder> {
    const hint = 'name a folder under runs/<pipeline>/sweeps/, or <pipeline>/sweeps/<NNNN>';
    let parsed: unknown;
    try {
      parsed = await readBackJson(dir, SWEEP_FILE, { what: 'sweep record', maxBytes: MAX_SWEEP_RECORD_BYTES });
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw new UserError(`${dir} is not a sweep folder (it has no readable ${SWEEP_FILE})`, [], hint);
    }
    const problem = sweepRecordProblem(parsed);
    if (problem)
      throw new UserError(
        `${path.join(dir, SWEEP_FILE)} is not a sweep record: ${problem}`,
        [],
        'the sweep record is damaged; start the sweep again',
      );
    return new SweepFolder(path.resolve(dir), parsed as SweepRecord);
  }

  async save(): Promise<void> {
    await writeJsonAtomic(path.join(this.dir, SWEEP_FILE), this.record);
  }

  async update(change: Partial<SweepRecord>): Promise<void> {
    this.record = { ...this.record, ...change };
    await this.save();
  }

  trialFile(index: number): string {
    return path.join(this.dir, 'trials', `${String(index).padStart(4, '0')}.json`);
  }

  async writeTrial(state: TrialState): Promise<void> {
    await writeJsonAtomic(this.trialFile(state.index), state);
  }

  /** A trial's state; undefined when it has none yet, or when its file is not one (damaged: the trial runs again). */
  async readTrial(index: number): Promise<TrialState | undefined> {
    const name = path.relative(this.dir, this.trialFile(index));
    const bytes = await readBackIfPresent(this.dir, name, {
      what: 'trial state',
      maxBytes: MAX_TRIAL_STATE_BYTES,
    }).catch(() => undefined);
    if (bytes === undefined) return undefined;
    try {
      const state = JSON.parse(bytes.toString('utf8')) as Partial<TrialState> | null;
      return isTrialState(state, index) ? state : undefined;
    } catch {
      return undefined;
    }
  }

  /** Every trial's state, by index (a trial not started yet has none). */
  async readTrials(): Promise<Map<number, TrialState>> {
    const states = new Map<number, TrialState>();
    for (const trial of this.record.trials) {
      const state = await this.readTrial(trial.index);
      if (state) states.set(trial.index, state);
    }
    return states;
  }

  /**
   * Records a trial's value at a rung and returns the values other trials
   * recorded there before it: what early termination compares it with.
   */
  async recordRung(epoch: number, index: number, value: number): Promise<number[]> {
    const dir = path.join(this.dir, 'rungs', String(epoch));
    await makeDirs(dir);
    const earlier: number[] = [];
    for (const name of await readdir(dir)) {
      if (!/^\d{4}\.json$/.test(name) || Number(name.slice(0, 4)) === index) continue;
      const bytes = await readBackIfPresent(dir, name, { what: 'rung value', maxBytes: MAX_TRIAL_STATE_BYTES }).catch(
        () => undefined,
      );
      let parsed: unknown;
      try {
        parsed = bytes === undefined ? undefined : JSON.parse(bytes.toString('utf8'));
      } catch {
        parsed = undefined;
      }
      const value = (parsed as { value?: unknown } | null | undefined)?.value;
      if (typeof value === 'number' && Number.isFinite(value)) earlier.push(value);
    }
    await writeJsonAtomic(path.join(dir, `${String(index).padStart(4, '0')}.json`), { value });
    return earlier;
  }

  async writeFile(name: string, content: string): Promise<void> {
    await writeFileAtomic(path.join(this.dir, name), content);
  }
}

/** sweep.json holds the pipeline's text and every trial's values: generous, but bounded. */
const MAX_SWEEP_RECORD_BYTES = 16 * 2 ** 20;
const MAX_TRIAL_STATE_BYTES = 1 * 2 ** 20;
const TRIAL_STATUSES: ReadonlySet<string> = new Set([
  'queued',
  'running',
  'completed',
  'failed',
  'stopped',
  'duplicate',
]);

export const newSweepUid = (): string => randomBytes(16).toString('hex');

/**
 * What is wrong with a sweep record read back, or undefined: the fields the
 * sweep and its workers rely on, with their types (the record is written by
 * tlpipe, but the runs folder is shared and can be edited).
 */
function sweepRecordProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not an object';
  const r = value as Record<string, unknown>;
  for (const key of ['id', 'pipeline', 'file', 'text', 'createdAt', 'status'] as const)
    if (typeof r[key] !== 'string') return `\`${key}\` is not a string`;
  if (!/^\d{4,}-[0-9a-f]{8}$/.test(r['id'] as string)) return '`id` is not <NNNN>-<8 hex digits>';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(r['pipeline'] as string)) return '`pipeline` is not a pipeline name';
  if (r['uid'] !== undefined && (typeof r['uid'] !== 'string' || !/^[0-9a-f]{32}$/.test(r['uid'])))
    return '`uid` is not 32 hex digits';
  const spec = r['spec'] as Record<string, unknown> | null | undefined;
  if (
    typeof spec !== 'object' ||
    spec === null ||
    !Array.isArray(spec['parameters']) ||
    typeof spec['metric'] !== 'object' ||
    spec['metric'] === null
  )
    return '`spec` is not a sweep specification';
  if (!Array.isArray(r['trials'])) return '`trials` is not a list';
  for (const [i, t] of (r['trials'] as unknown[]).entries()) {
    const trial = t as Record<string, unknown> | null;
    if (
      typeof trial !== 'object' ||
      trial === null ||
      !Number.isInteger(trial['index']) ||
      (trial['index'] as number) < 0 ||
      (trial['index'] as number) > 9999
    )
      return `trials[${i}] has no index from 0 to 9999`;
    if (typeof trial['values'] !== 'object' || trial['values'] === null || typeof trial['fingerprint'] !== 'string')
      return `trials[${i}] has no values or fingerprint`;
  }
  if (r['overrides'] !== undefined && !Array.isArray(r['overrides'])) return '`overrides` is not a list';
  const runner = r['runner'] as Record<string, unknown> | null | undefined;
  if (typeof runner !== 'object' || runner === null || (runner['kind'] !== 'local' && runner['kind'] !== 'queue'))
    return '`runner` is not local or queue';
  return undefined;
}

function isTrialState(state: Partial<TrialState> | null, index: number): state is TrialState {
  return (
    typeof state === 'object' &&
    state !== null &&
    state.index === index &&
    typeof state.status === 'string' &&
    TRIAL_STATUSES.has(state.status) &&
    typeof state.attempts === 'number' &&
    typeof state.updatedAt === 'string' &&
    (state.metric === undefined || typeof state.metric === 'number') &&
    (state.valLoss === undefined || typeof state.valLoss === 'number') &&
    // A run is <pipeline>/<NNNN>-<fp8>: the sweep report reads it, so a path elsewhere is not one.
    (state.run === undefined ||
      (typeof state.run === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/\d{4,}-[0-9a-f]{8}$/.test(state.run)))
  );
}

/** The sweeps of one pipeline (or, `under` kfold/, its k-fold runs), newest first. */
export async function listSweeps(runsRoot: string, pipeline: string, under: string = SWEEPS_DIR): Promise<string[]> {
  const parent = path.join(runsRoot, pipeline, under);
  const names = await readdir(parent).catch(() => [] as string[]);
  return newestFirst(names.filter((n) => /^\d{4,}-[0-9a-f]{8}$/.test(n))).map((n) => path.join(parent, n));
}
