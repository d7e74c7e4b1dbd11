import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/package/package-root.js';

const run = promisify(execFile);

/**
 * A task module and its layer's registry import each other's neighbours
 * (a task's evaluate goes through the API, which dispatches through the
 * registry), so a registry that read its entries at load time would throw
 * "Cannot access … before initialization" when a task module is the first
 * module a program imports. Each module of every layer's tasks/ folder is
 * imported first, in a process of its own.
 */
describe("every layer's task modules load as a program's first import", () => {
  const src = path.join(packageRoot(), 'dist', 'src');
  const modules = readdirSync(src, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => {
      const folder = path.join(src, d.name, 'tasks');
      try {
        return readdirSync(folder)
          .filter((f) => f.endsWith('.js'))
          .map((f) => path.join(folder, f));
      } catch {
        return [];
      }
    });

  it('finds the task folders (format, plan, engine, store, render, api, cli)', () => {
    const layers = new Set(modules.map((m) => path.basename(path.dirname(path.dirname(m)))));
    assert.deepEqual([...layers].sort(), ['api', 'cli', 'engine', 'format', 'plan', 'render', 'store']);
  });

  it('each loads alone', async () => {
    const failures: string[] = [];
    // A few at a time: each child loads tfjs.
    for (let i = 0; i < modules.length; i += 4)
      await Promise.all(
        modules.slice(i, i + 4).map(async (file) => {
          try {
            await run(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(file)});`], {
              timeout: 60_000,
            });
          } catch (error) {
            const { stderr } = error as { stderr?: string };
            failures.push(
              `${path.relative(src, file)}: ${(stderr ?? String(error)).split('\n').find((l) => /Error/.test(l)) ?? stderr}`,
            );
          }
        }),
      );
    assert.deepEqual(failures, []);
  });
});
