import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/package/package-root.js';

/**
 * Imports go one way: cli → api → watch/progress/sweep → render → store → engine →
 * plan → format → platform (the few things Node itself gets wrong, worked around
 * once, and reading back files nothing vouches for) → diagnostics/package. A folder imports from folders below it (and
 * from itself). The store implements the engine's output interfaces, so it
 * may use the engine's types, never its code; rendering (report pages,
 * charts, the demo page) makes text from what the store reads and hands it
 * back to the store to write, so it too uses the engine's types only; the
 * CLI uses the layers under the API only for types and for printing
 * (progress, diagnostics).
 */
const RANK: Readonly<Record<string, number>> = { diagnostics: 0, package: 0, platform: 0.5, format: 1, plan: 2, engine: 3, store: 4, render: 4.5, progress: 5, watch: 5, sweep: 5, api: 6, cli: 7 };
/** Layers a folder may import code (not only types) from, beyond the rank rule. */
const CODE_FROM: Readonly<Record<string, readonly string[] | undefined>> = {
  store: ['diagnostics', 'package', 'platform', 'format', 'plan', 'store'],
  render: ['diagnostics', 'package', 'platform', 'format', 'plan', 'store', 'render'],
  cli: ['cli', 'api', 'progress', 'diagnostics', 'package'],
};

interface Import { from: string; to: string; typeOnly: boolean; line: number }

function importsOf(src: string): Import[] {
  const out: Import[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith('.ts')) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/gm)) {
          const spec = m[3] ?? m[4]!;
          const typeOnly = m[2] !== undefined || (m[4] !== undefined && /\)\s*\.\s*[A-Z]|typeof import/.test(text.slice(m.index! - 8, m.index! + m[0].length + 3)));
          const line = text.slice(0, m.index).split('\n').length;
          out.push({ from: path.relative(src, file), to: path.relative(src, path.resolve(path.dirname(file), spec)), typeOnly, line });
        }
      }
    }
  };
  walk(src);
  return out;
}

const layer = (file: string): string => file.split(path.sep)[0]!;

describe('imports go one way', () => {
  const src = path.join(packageRoot(), 'src');
  const imports = importsOf(src);

  it('finds the imports it checks', () => assert.ok(imports.length > 300, `${imports.length} imports`));

  it('every folder is a known layer', () => {
    assert.deepEqual([...new Set(imports.map((i) => layer(i.from)))].filter((l) => RANK[l] === undefined), []);
  });

  it('no module imports from a layer above its own', () => {
    const upward = imports.filter((i) => layer(i.to) !== layer(i.from) && RANK[layer(i.to)]! >= RANK[layer(i.from)]!);
    assert.deepEqual(upward.map((i) => `${i.from}:${i.line} → ${i.to}`), []);
  });

  it('the store and rendering use the engine\'s types only, and the CLI only the API, progress and diagnostics for code', () => {
    const crossing = imports.filter((i) => !i.typeOnly && CODE_FROM[layer(i.from)] && !CODE_FROM[layer(i.from)]!.includes(layer(i.to)));
    assert.deepEqual(crossing.map((i) => `${i.from}:${i.line} → ${i.to}`), []);
  });

  it('only the engine imports tfjs', () => {
    const outside: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith('.ts') && layer(path.relative(src, file)) !== 'engine' && /^import (?!type)[^;]*'@tensorflow\//m.test(readFileSync(file, 'utf8'))) outside.push(path.relative(src, file));
      }
    };
    walk(src);
    assert.deepEqual(outside, []);
  });
});
