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
