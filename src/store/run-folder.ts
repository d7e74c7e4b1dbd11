import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { UserError } from '../diagnostics/user-error.js';
import type { CheckpointIndex, ExportFiles, RunOutput, SealedFiles } from '../engine/train/checkpoints.js';
import { confinedPath, readBackFile } from '../platform/read-back.js';
import { writeFileAtomic } from './atomic-write.js';
import { readCheckpointIndex, writeCheckpointIndex } from './checkpoint-index.js';
import { readVerifiedFiles, writeFolderManifest } from './file-manifest.js';
import { gitState } from './git-state.js';
import type { DemoPageRenderer } from './demo-page.js';
import { fileModelHandler, writeExportFiles } from './model-folder.js';
import { RunLock, type LockOwner } from './run-lock.js';
import { readRunRecord, thisHost, versions, writeRunRecord, type RunRecord, type RunStatus } from './run-record.js';
import { HEARTBEAT_FILE, HEARTBEAT_MS } from './run-status.js';
import { makeDirs } from '../platform/make-dirs.js';

/** pipeline.yaml: the pipeline exactly as it ran (the file's bytes, or with overrides applied). */
export const PIPELINE_COPY = 'pipeline.yaml';
const LOG_FILE = 'log.txt';

/**
 * One run's folder: runs/<pipeline>/<NNNN>-<fp8>/. It numbers and creates
 * the folder, keeps run.json current, touches the heartbeat, appends the log,
 * and gives the engine its RunOutput; every file has its own module
 * (run-record, metrics-file, summary-file, plan-file, checkpoint-index,
 * model-folder), and this class goes through them.
 */
export class RunFolder implements RunOutput {
  private current: RunRecord;
  private heartbeat: NodeJS.Timeout | undefined;
  /** The folder's lock while this process runs or resumes it: one owner at a time. */
  private held: RunLock | undefined;

  /** `renderDemoPage`: the exported models' index.html, rendered above the store (src/render/). */
  private constructor(
    readonly dir: string,
    record: RunRecord,
    private readonly renderDemoPage: DemoPageRenderer,
  ) {
    this.current = record;
  }

  get id(): string {
    return this.current.id;
  }

  get record(): RunRecord {
    return this.current;
  }

  /** An existing run's folder, to resume it. */
  static async open(dir: string, renderDemoPage: DemoPageRenderer): Promise<RunFolder> {
    return new RunFolder(path.resolve(dir), await readRunRecord(dir), renderDemoPage);
  }

  /**
   * Creates runs/<pipeline>/<NNNN>-<fp8>/. The number is reserved by an
   * exclusive mkdir of runs/<pipeline>/.ids/<NNNN> first, so two runs
   * started at the same moment never share a number, whatever their fingerprints.
   */
  static async create(options: {
    runsRoot: string;
    pipeline: string;
    pipelineFile: string;
    pipelineText: string;
    fingerprint: string;
    seed: number;
    overrides?: Record<string, unknown>;
    renderDemoPage: DemoPageRenderer;
  }): Promise<RunFolder> {
    // Defence in depth: the format already restricts names; nothing may lead out of the runs folder.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(options.pipeline))
      throw new Error(`unsafe pipeline name for a run folder: ${JSON.stringify(options.pipeline)}`);
    const pipelineDir = path.join(options.runsRoot, options.pipeline);
    const id = await reserveFolderName(pipelineDir, options.fingerprint);
    const dir = path.join(pipelineDir, id);
    await mkdir(dir);
    const record: RunRecord = {
      id,
      pipeline: options.pipeline,
      status: 'running',
      pid: process.pid,
      host: thisHost(),
      startedAt: new Date().toISOString(),
      fingerprint: options.fingerprint,
      seed: options.seed,
      backend: null,
      git: gitState(options.pipelineFile),
      versions: versions(),
      ...(options.overrides && Object.keys(options.overrides).length > 0 ? { overrides: options.overrides } : {}),
    };
    const run = new RunFolder(dir, record, options.renderDemoPage);
    // A folder this process just made is free; the lock keeps a resume of it out while it runs.
    const locked = await RunLock.acquire(dir, 'run');
    if (!locked.ok) throw new Error(`the new run folder ${dir} is locked by another process`);
    run.held = locked.lock;
    await writeFileAtomic(path.join(dir, PIPELINE_COPY), options.pipelineText);
    await writeRunRecord(dir, record);
    return run;
  }

  /** Takes the folder's lock for this process (`run` or `resume`), or says who holds it. */
  async lock(by: string): Promise<{ ok: true } | { ok: false; owner: LockOwner | undefined }> {
    const result = await RunLock.acquire(this.dir, by);
    if (!result.ok) return result;
    this.held = result.lock;
    // The record as it is now that nobody else can change it.
    this.current = await readRunRecord(this.dir);
    return { ok: true };
  }

  /** Gives the lock up without finishing the run (a resume that found it cannot continue). */
  async unlock(): Promise<void> {
    await this.held?.release();
    this.held = undefined;
  }

  path(relative: string): string {
    return path.join(this.dir, relative);
  }

  /** The pipeline as it ran. */
  async pipelineText(): Promise<string> {
    return (await readBackFile(this.dir, PIPELINE_COPY, { what: 'pipeline copy', kind: 'text' })).toString('utf8');
  }

  // ——— RunOutput, for the engine ———

  /**
   * Rejects with ENOENT (the folder's path) once the run folder is gone.
   * Every write into it checks first: making a file's missing parents would
   * otherwise make the deleted run folder again, half empty, and the run
   * would go on into it instead of failing as removed.
   */
  private async present(): Promise<void> {
    await stat(this.dir);
  }

  async writeFile(relative: string, data: string | Uint8Array): Promise<void> {
    await this.present();
    return writeFileAtomic(this.path(relative), data);
  }

  /** Read back like every file of the folder: inside it (after links), a regular file, within the binary bound; ENOENT when absent. */
  async readFile(relative: string): Promise<Uint8Array> {
    return readBackFile(this.dir, relative, { what: 'run file', kind: 'binary' });
  }

  async sealDir(relativeDir: string): Promise<void> {
    await this.present();
    await writeFolderManifest(confinedPath(this.dir, relativeDir, 'checkpoint folder'));
  }

  async readSealedFiles(relativeDir: string, names: readonly string[]): Promise<SealedFiles> {
    const dir = confinedPath(this.dir, relativeDir, 'checkpoint folder');
    const verified = await readVerifiedFiles(dir, names, { what: 'checkpoint', within: this.dir });
    if (verified.ok) return { ok: true, files: verified.files };
    // Named from the run folder: `checkpoints/epoch-003/weights.bin …`, as the user finds it.
    const shown = (text: string): string => text.split(this.dir + path.sep).join('');
    // A folder without a manifest was never finished, or an older tlpipe wrote it: either way nothing vouches for its files.
    const problem = verified.missingManifest
      ? `${verified.problem} (the checkpoint was not finished, or an older tlpipe wrote it)`
      : verified.problem;
    return { ok: false, problem: shown(problem), ...(verified.file ? { file: shown(verified.file) } : {}) };
  }

  /** A checkpoint folder is written under a temporary name and renamed into place whole. */
  async replaceDir(fromRelative: string, toRelative: string): Promise<void> {
    await this.present();
    await rm(this.path(toRelative), { recursive: true, force: true });
    await rename(this.path(fromRelative), this.path(toRelative));
  }

  /** Removes a file or folder of the run, never anything outside it (the path may come from a file read back). */
  async remove(relative: string): Promise<void> {
    await rm(confinedPath(this.dir, relative, 'run path'), { recursive: true, force: true });
  }

  modelHandler(relativeDir: string): io.IOHandler {
    const handler = fileModelHandler(this.path(relativeDir));
    return {
      ...handler,
      save: async (artifacts) => {
        await this.present();
        return handler.save!(artifacts);
      },
    };
  }

  readCheckpointIndex(): Promise<{ index?: CheckpointIndex; problem?: string }> {
    return readCheckpointIndex(this.dir);
  }

  async listDir(relativeDir: string): Promise<string[]> {
    return readdir(this.path(relativeDir)).catch((error: NodeJS.ErrnoException) =>
      error.code === 'ENOENT' || error.code === 'ENOTDIR' ? [] : Promise.reject(error),
    );
  }

  async writeCheckpointIndex(index: CheckpointIndex): Promise<void> {
    await this.present();
    return writeCheckpointIndex(this.dir, index);
  }

  async writeExportFiles(files: ExportFiles, relativeDir?: string): Promise<void> {
    await this.present();
    return writeExportFiles(this.dir, files, this.renderDemoPage, relativeDir);
  }

  // ——— The run's record and log ———

  /** Marks the run running again in this process, and clears what its dead process left half-written. */
  async resumed(fromEpoch: number): Promise<void> {
    const checkpoints = await readdir(this.path('checkpoints')).catch(() => [] as string[]);
    for (const name of checkpoints.filter((n) => n.startsWith('.partial-')))
      await rm(this.path(`checkpoints/${name}`), { recursive: true, force: true });
    const { error: _error, endedAt: _endedAt, seconds: _seconds, ...rest } = this.current;
    this.current = {
      ...rest,
      status: 'running',
      pid: process.pid,
      host: thisHost(),
      resumes: [
        ...(rest.resumes ?? []),
        { at: new Date().toISOString(), fromEpoch, pid: process.pid, host: thisHost() },
      ],
    };
    await writeRunRecord(this.dir, this.current);
  }

  /** Appends to log.txt, never through a link or into a FIFO: a run folder is read back, and may have been tampered with. */
  async appendLog(line: string): Promise<void> {
    const handle = await openOwnFile(this.path(LOG_FILE), constants.O_APPEND);
    try {
      await handle.write(line + '\n');
    } finally {
      await handle.close();
    }
  }

  async update(changes: Partial<RunRecord>): Promise<void> {
    this.current = { ...this.current, ...changes };
    await writeRunRecord(this.dir, this.current);
  }

  /**
   * Touches .heartbeat every few seconds while the run works, so `tlpipe runs`
   * can tell a live run from one whose process was killed. Stops at finish.
   */
  startHeartbeat(): void {
    const beat = (): void => {
      void openOwnFile(this.path(HEARTBEAT_FILE), constants.O_TRUNC)
        .then(async (handle) => {
          try {
            await handle.write(new Date().toISOString());
          } finally {
            await handle.close();
          }
        })
        .catch(() => undefined);
      void this.held?.touch();
    };
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** run.json's end of the run, were it to end at `endedAt`: the one duration every page and listing shows. */
  ending(endedAt: Date): Pick<RunRecord, 'endedAt' | 'seconds'> {
    return {
      endedAt: endedAt.toISOString(),
      seconds: (endedAt.getTime() - Date.parse(this.current.startedAt)) / 1000,
    };
  }

  /**
   * Marks the run ended; `completed` only when every output has been
   * written. A completed status is read back before it counts: a runs folder
   * gone read-only, full or removed must leave the run failing, never a
   * completed run.json nobody wrote or a success whose record says otherwise.
   * `endedAt`: when the run ended, if a page written before this (its
   * report) already shows that end.
   */
  async finish(
    status: Exclude<RunStatus, 'running'>,
    error?: RunRecord['error'],
    endedAt = new Date(),
  ): Promise<RunRecord> {
    clearInterval(this.heartbeat);
    try {
      await rm(this.path(HEARTBEAT_FILE), { force: true });
      await this.update({ status, ...this.ending(endedAt), ...(error ? { error } : {}) });
      if (status === 'completed') {
        const written = await readRunRecord(this.dir);
        if (written.status !== 'completed' || written.endedAt !== this.current.endedAt) {
          throw new UserError(
            `${this.path('run.json')} does not read back as completed after it was written`,
            [],
            'the runs folder is not keeping what is written to it (read-only, full or removed); resume the run once it is writable',
          );
        }
      }
    } finally {
      await this.unlock();
    }
    return this.current;
  }
}

/**
 * Opens a file of the run folder for writing in place (created when
 * missing), refusing a symbolic link (a log.txt linked to ~/.bashrc would
 * be appended to) or anything but a regular file (a FIFO would block).
 */
async function openOwnFile(file: string, mode: number): Promise<FileHandle> {
  const existing = await lstat(file).catch((error: NodeJS.ErrnoException) =>
    error.code === 'ENOENT' ? undefined : Promise.reject(error),
  );
  if (existing && !existing.isFile())
    throw new UserError(
      `${file} is ${existing.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; tlpipe writes only regular files of the run folder`,
      [],
      'the run folder was tampered with; remove that entry, then resume',
    );
  const handle = await open(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK | mode,
    0o644,
  );
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new UserError(
      `${file} is not a regular file; tlpipe writes only regular files of the run folder`,
      [],
      'the run folder was tampered with; remove that entry, then resume',
    );
  }
  return handle;
}

/** A folder made by reserveFolderName: `<NNNN>-<fp8>`. */
const NUMBERED_FOLDER = /^(\d{4,})-/;

/**
 * `<NNNN>-<fp8>`, the next free number in `parent`, reserved by an exclusive
 * mkdir of `<parent>/.ids/<NNNN>`, so two folders made at the same moment
 * never share a number, whatever their fingerprints (runs and sweeps). The
 * numbers of the folders already in `parent` count too: a clone of a
 * repository that keeps runs in git has them but no .ids (git keeps no
 * empty folders), and the next number must still come after them.
 */
export async function reserveFolderName(parent: string, fingerprint: string): Promise<string> {
  const idsDir = path.join(parent, '.ids');
  await makeDirs(idsDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOTDIR' && error.code !== 'EEXIST') throw error;
    throw new UserError(
      `${idsDir} is not a folder (tlpipe keeps the numbers it has given out in it)`,
      [],
      `remove or rename it; tlpipe makes it again and numbers new folders after those already in ${parent}`,
    );
  });
  const numbers = (names: string[], pattern: RegExp): number[] =>
    names
      .map((n) => pattern.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .filter(Number.isSafeInteger);
  const taken = [...numbers(await readdir(idsDir), /^(\d+)$/), ...numbers(await readdir(parent), NUMBERED_FOLDER)];
  let number = taken.reduce((max, n) => Math.max(max, n), 0) + 1;
  for (;;) {
    try {
      await mkdir(path.join(idsDir, String(number).padStart(4, '0')));
      return `${String(number).padStart(4, '0')}-${fingerprint.slice(0, 8)}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      number++;
    }
  }
}
