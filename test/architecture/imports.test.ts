import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/package/package-root.js';

/**
 * Imports go one way: cli → api → watch/progress/sweep/serve → render → store → engine →
 * plan → format → platform (the few things Node itself gets wrong, worked around
 * once, and reading back files nothing vouches for) → diagnostics/package. A folder imports from folders below it (and
 * from itself). The store implements the engine's output interfaces, so it
 * may use the engine's types, never its code; rendering (report pages,
 * charts, the demo page) makes text from what the store reads and hands it
 * back to the store to write, so it too uses the engine's types only; the
 * CLI uses the layers under the API only for types and for printing
 * (progress, diagnostics).
 */
const RANK: Readonly<Record<string, number>> = {
  diagnostics: 0,
  package: 0,
  platform: 0.5,
  format: 1,
  plan: 2,
  engine: 3,
  store: 4,
  render: 4.5,
  progress: 5,
  watch: 5,
  sweep: 5,
  serve: 5,
  api: 6,
  cli: 7,
};
/** Layers a folder may import code (not only types) from, beyond the rank rule. */
const CODE_FROM: Readonly<Record<string, readonly string[] | undefined>> = {
  store: ['diagnostics', 'package', 'platform', 'format', 'plan', 'store'],
  render: ['diagnostics', 'package', 'platform', 'format', 'plan', 'store', 'render'],
  cli: ['cli', 'api', 'progress', 'diagnostics', 'package'],
};

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
  line: number;
}

/**
 * A module named by path rather than imported — a process forked, a worker
 * thread started — is a dependency all the same: `new URL('…',
 * import.meta.url)` and `import.meta.resolve('…')` count as code imports.
 */
const PATH_REFERENCE =
  /new\s+URL\(\s*(['"`])(\.[^'"`]+)\1\s*,\s*import\.meta\.url\s*\)|import\.meta\.resolve\(\s*(['"`])(\.[^'"`]+)\3\s*\)/g;

/** The imports and path references of one module, `file` relative to src. */
function referencesIn(file: string, text: string): Import[] {
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean, index: number): void => {
    out.push({
      from: file,
      to: path.normalize(path.join(path.dirname(file), spec)),
      typeOnly,
      line: text.slice(0, index).split('\n').length,
    });
  };
  for (const m of text.matchAll(
    /^(import|export)\s+(type\s+)?[^'";]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/gm,
  )) {
    const spec = m[3] ?? m[4]!;
    const typeOnly =
      m[2] !== undefined ||
      (m[4] !== undefined &&
        /\)\s*\.\s*[A-Z]|typeof import/.test(text.slice(m.index! - 8, m.index! + m[0].length + 3)));
    add(spec, typeOnly, m.index!);
  }
  for (const m of text.matchAll(PATH_REFERENCE)) add(m[2] ?? m[4]!, false, m.index!);
  return out;
}

function importsOf(src: string): Import[] {
  const out: Import[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (file.endsWith('.ts')) out.push(...referencesIn(path.relative(src, file), readFileSync(file, 'utf8')));
    }
  };
  walk(src);
  return out;
}

const layer = (file: string): string => file.split(path.sep)[0]!;
const upwardOf = (imports: readonly Import[]): string[] =>
  imports
    .filter((i) => layer(i.to) !== layer(i.from) && RANK[layer(i.to)]! >= RANK[layer(i.from)]!)
    .map((i) => `${i.from}:${i.line} → ${i.to}`);

describe('imports go one way', () => {
  const src = path.join(packageRoot(), 'src');
  const imports = importsOf(src);

  it('finds the imports it checks', () => assert.ok(imports.length > 300, `${imports.length} imports`));

  it('every folder is a known layer', () => {
    assert.deepEqual(
      [...new Set(imports.map((i) => layer(i.from)))].filter((l) => RANK[l] === undefined),
      [],
    );
  });

  it('no module imports from a layer above its own', () => {
    assert.deepEqual(upwardOf(imports), []);
  });

  it('a module named by path counts as an import: a path up to a layer above is found', () => {
    const cases: { name: string; file: string; text: string; upward: string[] }[] = [
      {
        name: 'a child process started by path',
        file: 'sweep/run-trial.ts',
        text: "const CHILD = fileURLToPath(new URL('../cli/trial-child.js', import.meta.url));",
        upward: ['sweep/run-trial.ts:1 → cli/trial-child.js'],
      },
      {
        name: 'double quotes, on a later line',
        file: 'store/x.ts',
        text: '\nfork(new URL("../api/run.js", import.meta.url));',
        upward: ['store/x.ts:2 → api/run.js'],
      },
      {
        name: 'import.meta.resolve',
        file: 'engine/x.ts',
        text: "const at = import.meta.resolve('../sweep/run-trial.js');",
        upward: ['engine/x.ts:1 → sweep/run-trial.js'],
      },
      {
        name: 'a worker thread of its own folder',
        file: 'engine/workers/pool.ts',
        text: "new Worker(new URL('./feature-worker.js', import.meta.url));",
        upward: [],
      },
      {
        name: 'a path down a layer',
        file: 'api/sweep.ts',
        text: "new URL('../sweep/thing.js', import.meta.url)",
        upward: [],
      },
    ];
    for (const c of cases) assert.deepEqual(upwardOf(referencesIn(c.file, c.text)), c.upward, c.name);
  });

  it('sees the trial child, started by path, where its path is given', () => {
    assert.ok(
      imports.some(
        (i) => i.from === path.join('api', 'sweep.ts') && i.to === path.join('api', 'trial-child.js') && !i.typeOnly,
      ),
      'api/sweep.ts → api/trial-child.js',
    );
  });

  it("the store and rendering use the engine's types only, and the CLI only the API, progress and diagnostics for code", () => {
    const crossing = imports.filter(
      (i) => !i.typeOnly && CODE_FROM[layer(i.from)] && !CODE_FROM[layer(i.from)]!.includes(layer(i.to)),
    );
    assert.deepEqual(
      crossing.map((i) => `${i.from}:${i.line} → ${i.to}`),
      [],
    );
  });

  it('only the engine imports tfjs', () => {
    const outside: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (
          file.endsWith('.ts') &&
          layer(path.relative(src, file)) !== 'engine' &&
          /^import (?!type)[^;]*'@tensorflow\//m.test(readFileSync(file, 'utf8'))
        )
          outside.push(path.relative(src, file));
      }
    };
    walk(src);
    assert.deepEqual(outside, []);
  });

  // Node lexes every CommonJS module an ES module imports, and the ones it re-exports, to find their export names:
  // ~0.3 s of CPU a process for tfjs's bundles. engine/tfjs.cts requires it once and hands the object on.
  it("the engine takes tfjs's code from engine/tfjs.cts, not as an ES module import of @tensorflow/tfjs", () => {
    assert.deepEqual(tfjsImportsAsModule(path.join(src, 'engine')), []);
  });
});

/** Files under `dir` that import @tensorflow/tfjs's code (not only its types) as an ES module. */
function tfjsImportsAsModule(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (
      entry.isFile() &&
      file.endsWith('.ts') &&
      /^import (?!type)[^;]*'@tensorflow\/tfjs'/m.test(readFileSync(file, 'utf8'))
    )
      found.push(path.relative(dir, file));
  }
  return found;
}
