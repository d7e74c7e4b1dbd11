import { execFileSync } from 'node:child_process';
import { appendFile, copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { packageRoot } from '../spec/package-root.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic-write.js';
import { fileModelHandler } from './model-files.js';

export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';

export interface GitState {
  commit: string;
  branch: string | null;
  dirty: boolean;
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
}

/** One run's folder. Every write is atomic except the append-only logs. */
export class RunDirectory {
  private record: RunRecord;

  private constructor(readonly dir: string, record: RunRecord) {
    this.record = record;
  }

  get id(): string {
    return this.record.id;
  }

  /**
   * Creates runs/<pipeline>/<NNNN>-<fp8>/. The number is reserved by an
   * exclusive mkdir of runs/<pipeline>/.ids/<NNNN> first, so two runs
   * started at the same moment never share a number, whatever their fingerprints.
   */
  static async create(options: { runsRoot: string; pipeline: string; pipelineFile: string; fingerprint: string; seed: number }): Promise<RunDirectory> {
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
      git: gitState(path.dirname(options.pipelineFile)),
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
    this.record = { ...this.record, ...changes };
    await this.writeJson('run.json', this.record);
  }

  /** Marks the run ended; `completed` only when every output has been written. */
  async finish(status: Exclude<RunStatus, 'running'>, error?: RunRecord['error']): Promise<RunRecord> {
    const endedAt = new Date();
    await this.update({
      status,
      endedAt: endedAt.toISOString(),
      seconds: (endedAt.getTime() - Date.parse(this.record.startedAt)) / 1000,
      ...(error ? { error } : {}),
    });
    return this.record;
  }
}

function gitState(cwd: string): GitState | null {
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', 'HEAD');
    const branch = git('rev-parse', '--abbrev-ref', 'HEAD');
    return { commit, branch: branch === 'HEAD' ? null : branch, dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
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
