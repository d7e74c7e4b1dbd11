import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { SweepSpec } from '../plan/sweep-trials.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { reserveFolderName } from './run-folder.js';
import { makeDirs } from '../platform/make-dirs.js';

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
}

export interface SweepRecord {
  id: string;
  pipeline: string;
  /** The pipeline file, absolute. */
  file: string;
  /** The pipeline's text when the sweep started: every trial runs it, with its values set. */
  text: string;
  createdAt: string;
  status: 'running' | 'completed' | 'failed' | 'interrupted';
  spec: SweepSpec;
  trials: SweepTrialPlan[];
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
  test?: { accuracy: number; loss: number };
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
  private constructor(readonly dir: string, public record: SweepRecord) {}

  static async create(runsRoot: string, record: Omit<SweepRecord, 'id'>, fingerprint: string): Promise<SweepFolder> {
    const parent = path.join(runsRoot, record.pipeline, SWEEPS_DIR);
    const id = await reserveFolderName(parent, fingerprint);
    const folder = new SweepFolder(path.join(parent, id), { id, ...record });
    await makeDirs(path.join(folder.dir, 'trials'));
    await folder.save();
    return folder;
  }

  static async open(dir: string): Promise<SweepFolder> {
    const file = path.join(dir, SWEEP_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new UserError(`${dir} is not a sweep folder (it has no readable ${SWEEP_FILE})`, [], 'name a folder under runs/<pipeline>/sweeps/, or <pipeline>/sweeps/<NNNN>');
    }
    try {
      return new SweepFolder(path.resolve(dir), JSON.parse(text) as SweepRecord);
    } catch {
      throw new UserError(`${file} is not valid JSON`, [], 'the sweep record is damaged; start the sweep again');
    }
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

  async readTrial(index: number): Promise<TrialState | undefined> {
    const text = await readFile(this.trialFile(index), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as TrialState;
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
      const text = await readFile(path.join(dir, name), 'utf8').catch(() => undefined);
      const parsed = text === undefined ? undefined : (JSON.parse(text) as { value: number });
      if (parsed && Number.isFinite(parsed.value)) earlier.push(parsed.value);
    }
    await writeJsonAtomic(path.join(dir, `${String(index).padStart(4, '0')}.json`), { value });
    return earlier;
  }

  async writeFile(name: string, content: string): Promise<void> {
    await writeFileAtomic(path.join(this.dir, name), content);
  }
}

/** The sweeps of one pipeline, newest first. */
export async function listSweeps(runsRoot: string, pipeline: string): Promise<string[]> {
  const parent = path.join(runsRoot, pipeline, SWEEPS_DIR);
  const names = await readdir(parent).catch(() => [] as string[]);
  return names.filter((n) => /^\d{4}-[0-9a-f]{8}$/.test(n)).sort().reverse().map((n) => path.join(parent, n));
}
