import { execFileSync } from 'node:child_process';
import { appendFile, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { packageRoot } from '../package/package-root.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { fileModelHandler } from './model-files.js';
import { HEARTBEAT_FILE, HEARTBEAT_MS } from './run-status.js';

export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';

export interface GitState {
  commit: string;
  branch: string | null;
  /** Uncommitted changes anywhere in the repository (untracked files aside). */
  dirty: boolean;
  /** The pipeline file itself: unchanged, changed against HEAD, or not in git. */
  pipelineFile: 'clean' | 'modified' | 'untracked';
  /** `git diff HEAD` of the pipeline file when it is modified (cut at 64 KiB). */
  pipelineDiff?: string;
}

/** run.json: who ran what, where and when, and how it ended. */
export interface RunRecord {
  id: string;
  pipeline: string;
  status: RunStatus;
  pid: number;
  startedAt: string;
  endedAt?: string;
  seconds?: number;
  fingerprint: string;
  seed: number;
  backend: string | null;
  git: GitState | null;
  versions: { tlpipe: string; tfjs: string; node: string };
  /** For a downloaded base: its address and the sha256 of what was downloaded. */
  download?: { url: string; sha256: string };
  /** For a run: base: the run whose exported model is this run's base. */
  upstream?: { pipeline: string; run: string; fingerprint: string };
  error?: { message: string; hint?: string };
  /** The strategy asked for and chosen; for auto, the decision in one sentence. */
  strategy?: { requested: string; chosen: string; decision?: string };
  /** Each time `tlpipe resume` continued the run: when, from which epoch, in which process. */
  resumes?: { at: string; fromEpoch: number; pid: number }[];
}

/** One run's folder. Every write is atomic except the append-only logs. */
export class RunDirectory {
  private current: RunRecord;
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(readonly dir: string, record: RunRecord) {
    this.current = record;
  }

  get id(): string {
    return this.current.id;
  }

  get record(): RunRecord {
    return this.current;
  }

  /** An existing run's folder, to resume it. */
  static async open(dir: string): Promise<RunDirectory> {
    return new RunDirectory(path.resolve(dir), await readRunRecord(dir));
  }

  /** The epoch of the run's latest complete checkpoint (the one checkpoints/index.json names). */
  async latestCheckpointEpoch(): Promise<number | undefined> {
    const text = await readFile(this.path('checkpoints/index.json'), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const index = JSON.parse(text) as { latest: { epoch: number } | null };
    return index.latest?.epoch;
  }

  /** Drops metric rows after `lastEpoch`, which a resumed run computes again. */
  async truncateMetrics(lastEpoch: number): Promise<void> {
    const text = await readFile(this.path('metrics.jsonl'), 'utf8').catch(() => '');
    const kept = text.split('\n').filter((line) => line.trim() !== '' && (JSON.parse(line) as { epoch: number }).epoch <= lastEpoch);
    await this.writeFile('metrics.jsonl', kept.map((line) => line + '\n').join(''));
  }

  /** Marks the run running again in this process, and clears what its dead process left half-written. */
  async resumed(fromEpoch: number): Promise<void> {
    const checkpoints = await readdir(this.path('checkpoints')).catch(() => [] as string[]);
    for (const name of checkpoints.filter((n) => n.startsWith('.partial-'))) await rm(this.path(`checkpoints/${name}`), { recursive: true, force: true });
    const { error: _error, endedAt: _endedAt, seconds: _seconds, ...rest } = this.current;
    this.current = { ...rest, status: 'running', pid: process.pid, resumes: [...(rest.resumes ?? []), { at: new Date().toISOString(), fromEpoch, pid: process.pid }] };
    await this.writeJson('run.json', this.current);
  }

  /**
   * Creates runs/<pipeline>/<NNNN>-<fp8>/. The number is reserved by an
   * exclusive mkdir of runs/<pipeline>/.ids/<NNNN> first, so two runs
   * started at the same moment never share a number, whatever their fingerprints.
   */
  static async create(options: { runsRoot: string; pipeline: string; pipelineFile: string; fingerprint: string; seed: number }): Promise<RunDirectory> {
    // Defence in depth: the spec already restricts names; nothing may lead out of the runs folder.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(options.pipeline)) throw new Error(`unsafe pipeline name for a run folder: ${JSON.stringify(options.pipeline)}`);
    const pipelineDir = path.join(options.runsRoot, options.pipeline);
    const idsDir = path.join(pipelineDir, '.ids');
    await mkdir(idsDir, { recursive: true });
    const taken = (await readdir(idsDir)).map(Number).filter(Number.isInteger);
    let number = Math.max(0, ...taken) + 1;
    for (;;) {
      try {
        await mkdir(path.join(idsDir, String(number).padStart(4, '0')));
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        number++;
      }
    }
    const id = `${String(number).padStart(4, '0')}-${options.fingerprint.slice(0, 8)}`;
    const dir = path.join(pipelineDir, id);
    await mkdir(dir);
    const record: RunRecord = {
      id,
      pipeline: options.pipeline,
      status: 'running',
      pid: process.pid,
      startedAt: new Date().toISOString(),
      fingerprint: options.fingerprint,
      seed: options.seed,
      backend: null,
      git: gitState(options.pipelineFile),
      versions: versions(),
    };
    const run = new RunDirectory(dir, record);
    await copyFile(options.pipelineFile, path.join(dir, 'pipeline.yaml'));
    await run.writeJson('run.json', record);
    return run;
  }

  path(relative: string): string {
    return path.join(this.dir, relative);
  }

  writeJson(relative: string, value: unknown): Promise<void> {
    return writeJsonAtomic(this.path(relative), value);
  }

  writeFile(relative: string, data: string | Uint8Array): Promise<void> {
    return writeFileAtomic(this.path(relative), data);
  }

  async readFile(relative: string): Promise<Uint8Array> {
    return new Uint8Array(await readFile(this.path(relative)));
  }

  /** A checkpoint folder is written under a temporary name and renamed into place whole. */
  async replaceDir(fromRelative: string, toRelative: string): Promise<void> {
    await rm(this.path(toRelative), { recursive: true, force: true });
    await rename(this.path(fromRelative), this.path(toRelative));
  }

  remove(relative: string): Promise<void> {
    return rm(this.path(relative), { recursive: true, force: true });
  }

  /** One JSON object per line, appended whole in one write. */
  appendJsonLine(relative: string, value: unknown): Promise<void> {
    return appendFile(this.path(relative), JSON.stringify(value) + '\n');
  }

  appendLog(line: string): Promise<void> {
    return appendFile(this.path('log.txt'), line + '\n');
  }

  modelHandler(relativeDir: string): io.IOHandler {
    return fileModelHandler(this.path(relativeDir));
  }

  async update(changes: Partial<RunRecord>): Promise<void> {
    this.current = { ...this.current, ...changes };
    try {
      await this.writeJson('run.json', this.current);
    } catch (error) {
      // On a full disk the temporary copy cannot be written, but run.json's own blocks can be
      // overwritten: a run must be able to record that it failed for lack of space.
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      await writeFile(this.path('run.json'), JSON.stringify(this.current, null, 2) + '\n');
    }
  }

  /**
   * Touches .heartbeat every few seconds while the run works, so `tlpipe runs`
   * can tell a live run from one whose process was killed. Stops at finish.
   */
  startHeartbeat(): void {
    const beat = (): void => void writeFile(this.path(HEARTBEAT_FILE), new Date().toISOString()).catch(() => undefined);
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Marks the run ended; `completed` only when every output has been written. */
  async finish(status: Exclude<RunStatus, 'running'>, error?: RunRecord['error']): Promise<RunRecord> {
    clearInterval(this.heartbeat);
    await rm(this.path(HEARTBEAT_FILE), { force: true });
    const endedAt = new Date();
    await this.update({
      status,
      endedAt: endedAt.toISOString(),
      seconds: (endedAt.getTime() - Date.parse(this.current.startedAt)) / 1000,
      ...(error ? { error } : {}),
    });
    return this.current;
  }
}

/** The git state of the repository holding the pipeline file, or null outside git. */
function gitState(pipelineFile: string): GitState | null {
  const cwd = path.dirname(pipelineFile);
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 16 << 20 }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    const branch = git('rev-parse', '--abbrev-ref', 'HEAD');
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
    const name = path.basename(pipelineFile);
    const tracked = git('ls-files', '--', name) !== '';
    const diff = tracked ? git('diff', 'HEAD', '--', name) : '';
    return {
      commit,
      branch: branch === 'HEAD' ? null : branch,
      dirty,
      pipelineFile: !tracked ? 'untracked' : diff === '' ? 'clean' : 'modified',
      ...(diff !== '' ? { pipelineDiff: diff.length > 65536 ? `${diff.slice(0, 65536)}\n… (cut)` : diff } : {}),
    };
  } catch {
    return null;
  }
}

function versions(): RunRecord['versions'] {
  const require = createRequire(import.meta.url);
  const read = (file: string): string => (require(file) as { version: string }).version;
  return {
    tlpipe: read(path.join(packageRoot(), 'package.json')),
    tfjs: read('@tensorflow/tfjs/package.json'),
    node: process.versions.node,
  };
}

/** Reads a run's run.json; for tests and the CLI. */
export async function readRunRecord(dir: string): Promise<RunRecord> {
  return JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
}
