import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gitState } from '../../src/store/git-state.js';
import type { GitState } from '../../src/store/run-record.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-git-state-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;

/** A real repository in a fresh folder, set up by `steps` (git commands, or files to write). */
function repository(steps: (string[] | { write: string; text: string })[]): string {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  for (const step of steps) {
    if (Array.isArray(step))
      execFileSync('git', step, {
        cwd: dir,
        stdio: 'ignore',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@example.com',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@example.com',
        },
      });
    else writeFileSync(path.join(dir, step.write), step.text);
  }
  return dir;
}
const init = ['init', '-q', '-b', 'main'];
const pipeline = { write: 'p.yaml', text: 'name: p\n' };
const commitAll = [
  ['add', '-A'],
  ['commit', '-q', '-m', 'c'],
];

describe('gitState', () => {
  const cases: {
    name: string;
    steps: (string[] | { write: string; text: string })[];
    expected: Omit<GitState, 'commit'> | null;
    diffHas?: string;
  }[] = [
    { name: 'outside git', steps: [pipeline], expected: null },
    { name: 'a repository without commits', steps: [init, pipeline], expected: null },
    {
      name: 'a clean, committed pipeline on a branch',
      steps: [init, pipeline, ...commitAll],
      expected: { branch: 'main', dirty: false, pipelineFile: 'clean' },
    },
    {
      name: 'the pipeline changed since the commit',
      steps: [init, pipeline, ...commitAll, { write: 'p.yaml', text: 'name: q\n' }],
      expected: { branch: 'main', dirty: true, pipelineFile: 'modified' },
      diffHas: '+name: q',
    },
    {
      name: 'another tracked file changed, the pipeline not',
      steps: [init, pipeline, { write: 'o.txt', text: 'a' }, ...commitAll, { write: 'o.txt', text: 'b' }],
      expected: { branch: 'main', dirty: true, pipelineFile: 'clean' },
    },
    {
      name: 'an untracked pipeline beside a commit (untracked files are not dirt)',
      steps: [init, { write: 'o.txt', text: 'a' }, ...commitAll, pipeline],
      expected: { branch: 'main', dirty: false, pipelineFile: 'untracked' },
    },
    {
      name: 'a detached HEAD',
      steps: [init, pipeline, ...commitAll, ['checkout', '-q', '--detach']],
      expected: { branch: null, dirty: false, pipelineFile: 'clean' },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const dir = repository(c.steps);
      const state = gitState(path.join(dir, 'p.yaml'));
      if (c.expected === null) return assert.equal(state, null);
      assert.ok(state);
      const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
      const { pipelineDiff, ...rest } = state;
      assert.deepEqual(rest, { commit: head, ...c.expected });
      if (c.diffHas) assert.ok(pipelineDiff?.includes(c.diffHas), pipelineDiff);
      else assert.equal(pipelineDiff, undefined);
    });
});
