import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { GitState } from './run-record.js';

/** The git state of the repository holding the pipeline file, or null outside git. */
export function gitState(pipelineFile: string): GitState | null {
  const cwd = path.dirname(pipelineFile);
  const git = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 16 << 20,
      timeout: 10_000,
    }).trim();
  try {
    // One status for the commit, the branch and whether anything tracked changed (each git spawn is ~10 ms of every run).
    const status = git('status', '--porcelain=v2', '--branch', '--untracked-files=no').split('\n');
    const header = (key: string): string | undefined =>
      status.find((line) => line.startsWith(`# branch.${key} `))?.slice(`# branch.${key} `.length);
    const commit = header('oid');
    // A repository without commits: no state to record, as `git rev-parse HEAD` failing said before.
    if (commit === undefined || !/^[0-9a-f]{40,64}$/.test(commit)) return null;
    const branch = header('head');
    const dirty = status.some((line) => line !== '' && !line.startsWith('#'));
    const name = path.basename(pipelineFile);
    const tracked = git('ls-files', '--', name) !== '';
    // A clean tree has no diff to ask for.
    const diff = tracked && dirty ? git('diff', 'HEAD', '--', name) : '';
    return {
      commit,
      branch: branch === undefined || branch === '(detached)' ? null : branch,
      dirty,
      pipelineFile: !tracked ? 'untracked' : diff === '' ? 'clean' : 'modified',
      ...(diff !== '' ? { pipelineDiff: diff.length > 65536 ? `${diff.slice(0, 65536)}\n… (cut)` : diff } : {}),
    };
  } catch {
    return null;
  }
}
