import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/package/package-root.js';
import { readJson, startCli, tlpipe, workspace, write, writeDigitImageFolder } from './cli-harness.js';

/** Every file under `dir` with its modification time. */
function snapshot(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(p, statSync(p).mtimeMs);
    }
  };
  walk(dir);
  return out;
}

describe('what a pipeline can make tlpipe do', () => {
  it('writes only inside the runs folder, whatever the file and class folder names hold', async () => {
    const dir = workspace('confine');
    await writeDigitImageFolder(path.join(dir, 'data', 'digits'), 4);
    const { renameSync } = await import('node:fs');
    renameSync(path.join(dir, 'data', 'digits', 'one'), path.join(dir, 'data', 'digits', 'one..'));
    renameSync(
      path.join(dir, 'data', 'digits', 'seven'),
      path.join(dir, 'data', 'digits', `${'s'.repeat(200)} $(touch x) <b>`),
    );
    // A file whose name would make `..` the pipeline name, in a folder of its own.
    const file = write(
      path.join(dir, 'data'),
      '...yaml',
      `backend: wasm
dataset: { format: imageFolder, dir: digits, test: 0.25, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1 }
`,
    );
    const before = snapshot(dir);
    const r = await tlpipe(['run', file, '--runs', path.join(dir, 'out', 'runs')], path.join(dir, 'data'));
    assert.equal(r.code, 0, r.stderr);
    const changed = [...snapshot(dir)].filter(([p, t]) => before.get(p) !== t).map(([p]) => path.relative(dir, p));
    assert.ok(changed.length > 5);
    for (const p of changed)
      assert.ok(
        p.startsWith(path.join('out', 'runs', 'pipeline') + path.sep) ||
          p.startsWith(path.join('out', 'runs', '.cache') + path.sep),
        p,
      );
    const labels = readJson(
      path.join(
        dir,
        'out',
        'runs',
        'pipeline',
        readdirSync(path.join(dir, 'out', 'runs', 'pipeline')).find((n) => /^\d{4}-/.test(n))!,
        'model',
        'labels.json',
      ),
    );
    assert.ok(labels.includes('one..') && labels.some((l: string) => l.includes('$(touch x)')), JSON.stringify(labels));
  });

  it('never evaluates or dynamically imports anything a pipeline names', () => {
    const src = path.join(packageRoot(), 'src');
    const manifest = readJson(path.join(packageRoot(), 'package.json')) as Record<string, Record<string, string>>;
    const dependencies = new Set(
      ['dependencies', 'optionalDependencies'].flatMap((field) => Object.keys(manifest[field] ?? {})),
    );
    const offending: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              // Dynamic imports must name a fixed module: a relative path or a package tlpipe depends on.
              const dynamic = [...line.matchAll(/\bimport\(([^)]*)\)/g)].map((m) => m[1]!.trim());
              const fixed = (arg: string): boolean => {
                const literal = /^'([^']+)'( as string)?$/.exec(arg)?.[1];
                if (literal === undefined) return false;
                if (/^(\.{1,2}\/|node:[a-z/_]+$)/.test(literal)) return true;
                // A package tlpipe depends on, or a file of one (ajv/dist/standalone), named in full.
                const name = literal.startsWith('@')
                  ? literal.split('/').slice(0, 2).join('/')
                  : literal.split('/')[0]!;
                return dependencies.has(name);
              };
              if (/\beval\(|new Function\(/.test(line) || dynamic.some((arg) => !fixed(arg)))
                offending.push(`${path.relative(src, p)}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(src);
    assert.deepEqual(offending, []);
  });
});

describe('two watchers on one runs folder', () => {
  it('both run, with distinct run numbers, and stop cleanly', async () => {
    const dir = workspace('two-watchers');
    write(
      dir,
      'w.yaml',
      `name: w
backend: wasm
dataset: { format: mnist, limit: { perClass: 4, testPerClass: 1 }, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 2 }
`,
    );
    const watching = [1, 2].map(() => {
      let resolveWatching: () => void = () => undefined;
      const started = new Promise<void>((resolve) => (resolveWatching = resolve));
      const cli = startCli(['watch', 'w.yaml'], dir, {
        onStderr: (stderr) => /^watching w\.yaml/m.test(stderr) && resolveWatching(),
      });
      return { cli, started };
    });
    // Bounded: a watcher that exits before watching (or never watches) fails the wait instead of hanging it.
    await Promise.race([
      Promise.all(watching.map((w) => w.started)),
      Promise.all(watching.map((w) => w.cli.exited())).then(() => assert.fail('a watcher exited before it watched')),
    ]);
    for (const { cli } of watching) cli.child.kill('SIGINT');
    assert.deepEqual(
      await Promise.all(watching.map((w) => w.cli.exited())),
      [0, 0],
      watching.map((w) => w.cli.stderr()).join('\n'),
    );
    const ids = readdirSync(path.join(dir, 'runs', 'w'))
      .filter((n) => /^\d{4}-/.test(n))
      .sort();
    assert.deepEqual(
      ids.map((id) => id.slice(0, 4)),
      ['0001', '0002'],
    );
    for (const id of ids) assert.equal(readJson(path.join(dir, 'runs', 'w', id, 'run.json')).status, 'completed');
  });
});
