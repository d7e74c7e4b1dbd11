import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { packageRoot } from '../../src/package/package-root.js';
import { READ_BACK_SCHEMAS } from '../../src/store/read-back-schemas.js';
import { GENERATED_READ_BACK_DIR, shapeKey } from '../../src/store/read-back-shape.js';
import { readDocs } from '../docs/doc-blocks.js';
import { workspace } from './cli-harness.js';

const exec = promisify(execFile);
const root = packageRoot();
const npm = (args: string[], cwd: string) =>
  exec('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    maxBuffer: 64 << 20,
    env: { ...process.env, FORCE_COLOR: '0' },
  });

/** The files `npm pack` would put in the tarball (dist is built by `pretest`, so nothing is rebuilt here). */
async function packedFiles(): Promise<string[]> {
  const { stdout } = await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], root);
  return (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}

describe('the package as users get it', () => {
  it('the tarball holds the compiled library with its types, the schema, pipelines, README and LICENSE — no tests, benchmarks or sources', async () => {
    const files = await packedFiles();
    for (const needed of [
      'package.json',
      'LICENSE',
      'README.md',
      'schemas/pipeline.schema.json',
      'pipelines/quickstart.yaml',
      'dist/src/cli/main.js',
      'dist/src/api/index.js',
      'dist/src/api/index.d.ts',
      'dist/src/engine/workers/feature-worker.js',
      // CommonJS, built from .cts: the pipeline schema's validator, compiled at build time.
      'dist/src/format/generated/pipeline-validator.cjs',
      // and the store's read-back validators, one per shape.
      ...READ_BACK_SCHEMAS.map((schema) => `dist/src/store/${GENERATED_READ_BACK_DIR}/${shapeKey(schema)}.cjs`),
    ]) {
      assert.ok(files.includes(needed), needed);
    }
    const stray = files.filter(
      (f) =>
        /^(test|bench|scripts|src)\//.test(f) ||
        /^dist\/(test|bench|scripts)\//.test(f) ||
        f.endsWith('.map') ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    assert.deepEqual(stray, []);
  });

  it('its exports resolve: the library, its types and tlpipe/schema.json', async () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      bin: Record<string, string>;
    };
    assert.deepEqual(Object.keys(manifest.exports), ['.', './schema.json', './package.json']);
    // Node's self-reference: this package imported by its own name goes through "exports", as a user's import does.
    const name = 'tlpipe';
    const library = (await import(name)) as Record<string, unknown>;
    for (const fn of [
      'validate',
      'plan',
      'run',
      'resume',
      'evaluate',
      'predict',
      'listRuns',
      'compare',
      'report',
      'loadModel',
      'modelFiles',
      'describeData',
      'audit',
      'listModels',
      'initProject',
      'watch',
      'formatDiagnostic',
    ]) {
      assert.equal(typeof library[fn], 'function', fn);
    }
    assert.equal(library['version'], JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    assert.equal(
      new URL(import.meta.resolve(`${name}/schema.json`)).pathname,
      path.join(root, 'schemas', 'pipeline.schema.json'),
    );
  });

  it(
    "installs from its tarball into an empty project; the CLI trains, a strict TypeScript program gets the same metrics and predictions through the API, and the docs' TypeScript examples compile against it (the runnable one runs)",
    { timeout: 600_000 },
    async () => {
      const dir = workspace('package');
      const { stdout: packed } = await npm(['pack', '--ignore-scripts', '--pack-destination', dir], root);
      const tarball = path.join(dir, packed.trim().split('\n').pop()!);
      const project = path.join(dir, 'project');
      mkdirSync(project);
      writeFileSync(
        path.join(project, 'package.json'),
        JSON.stringify({ name: 'project', version: '1.0.0', type: 'module', private: true }),
      );
      await npm(['install', '--save-dev', '--prefer-offline', tarball], project);
      const bin = path.join(project, 'node_modules', '.bin', 'tlpipe');
      const tlpipe = (args: string[]) =>
        exec(bin, args, { cwd: project, maxBuffer: 64 << 20, env: { ...process.env, FORCE_COLOR: '0' } });
      assert.match((await tlpipe(['--version'])).stdout, /^\d+\.\d+\.\d+\n$/);
      await tlpipe(['init']);
      assert.match(
        readFileSync(path.join(project, 'pipeline.yaml'), 'utf8'),
        /^# yaml-language-server: \$schema=node_modules\/tlpipe\/schemas\/pipeline\.schema\.json$/m,
      );

      // Six real test digits as PNG files, to classify both ways.
      mkdirSync(path.join(project, 'images'));
      const digits = readFileSync(mnistFiles().test.images).subarray(16);
      for (let i = 0; i < 6; i++)
        await sharp(Buffer.from(digits.subarray(i * 784, (i + 1) * 784)), {
          raw: { width: 28, height: 28, channels: 1 },
        })
          .png()
          .toFile(path.join(project, 'images', `digit-${i}.png`));

      // Few examples (the same for both): the two ways must agree, which needs no accuracy worth having.
      const sets = [
        'dataset.limit.perClass=10',
        'dataset.limit.testPerClass=5',
        'train.stages[0].epochs=2',
        'head[1].dense.units=32',
      ];
      const cli = await tlpipe(['run', 'pipeline.yaml', '--runs', 'cli-runs', ...sets.flatMap((s) => ['--set', s])]);
      assert.match(
        cli.stdout,
        /^completed cli-runs\/project\/0001-[0-9a-f]{8} in [\d.]+s on wasm: test accuracy [\d.]+/,
      );
      const cliRun = path.join(
        project,
        'cli-runs',
        'project',
        readdirSync(path.join(project, 'cli-runs', 'project')).find((n) => /^\d{4}-/.test(n))!,
      );
      const predicted = (await tlpipe(['predict', cliRun, 'images', '--top', '2'])).stdout;

      writeFileSync(
        path.join(project, 'check.ts'),
        `import { run, loadModel, formatDiagnostic, type RunResult } from 'tlpipe';
import { readdirSync } from 'node:fs';

const result: RunResult = await run('pipeline.yaml', {
  runsDir: 'api-runs',
  overrides: {
    'dataset.limit.perClass': 10,
    'dataset.limit.testPerClass': 5,
    'train.stages[0].epochs': 2,
    'head[1].dense.units': 32,
  },
});
if (!result.ok) throw new Error(result.diagnostics.map(formatDiagnostic).join('\\n'));
const test = result.value.summary?.test;
console.log(JSON.stringify({ accuracy: test?.accuracy, loss: test?.loss, perClass: test?.perClass }));
const loaded = await loadModel(result.value.dir);
if (!loaded.ok) throw new Error(loaded.diagnostics.map(formatDiagnostic).join('\\n'));
const images = readdirSync('images').sort().map((f) => \`images/\${f}\`);
for (const p of (await loaded.value.classify(images, { top: 2 })).predictions) {
  console.log(\`\${p.file}: \${p.top.map((t) => \`\${t.label} \${(t.probability * 100).toFixed(1)}%\`).join(', ')}\`);
}
loaded.value.dispose();
`,
      );
      // The docs' TypeScript blocks, each a module of this project: compiled with check.ts, and the `ts run` ones run below.
      const docExamples = readDocs(root).blocks.filter((b) => b.info === 'ts' || b.info === 'ts run');
      docExamples.forEach((b, i) =>
        writeFileSync(path.join(project, `doc-example-${i}.ts`), `// ${b.file}:${b.line}\n${b.text}`),
      );
      const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const config = JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: false,
          outDir: 'out',
          types: ['node'],
          typeRoots: [path.join(root, 'node_modules', '@types')],
        },
        include: ['check.ts', ...docExamples.map((_, i) => `doc-example-${i}.ts`)],
      });
      // Without skipLibCheck every declaration is checked: tlpipe's own must have no error (tfjs 4.22's have some, as for any program that imports tfjs).
      writeFileSync(path.join(project, 'tsconfig.json'), config);
      const strict = await exec(process.execPath, [tsc, '-p', '.'], { cwd: project }).then(
        () => '',
        (error: { stdout: string }) => error.stdout,
      );
      const errorFiles = [...strict.matchAll(/^([^\s(][^(]*)\(\d+,\d+\): error/gm)].map((m) => m[1]!);
      assert.deepEqual(
        errorFiles.filter((f) => !f.startsWith('node_modules/@tensorflow/')),
        [],
        strict,
      );
      // Every error is one of those (none without a file, as a configuration error would be), so with skipLibCheck the
      // program compiles clean; tsc emitted out/check.js all the same (it emits despite errors), so it is not compiled twice.
      assert.equal((strict.match(/error TS\d+/g) ?? []).length, errorFiles.length, strict);
      const [metrics, ...predictions] = (
        await exec(process.execPath, ['out/check.js'], { cwd: project, maxBuffer: 64 << 20, timeout: 300_000 })
      ).stdout
        .trim()
        .split('\n');

      const summary = JSON.parse(readFileSync(path.join(cliRun, 'summary.json'), 'utf8')) as {
        test: { accuracy: number; loss: number; perClass: unknown };
      };
      assert.deepEqual(JSON.parse(metrics!), {
        accuracy: summary.test.accuracy,
        loss: summary.test.loss,
        perClass: summary.test.perClass,
      });
      assert.deepEqual(predictions, predicted.trim().split('\n'));

      // The library guide's runnable example, as a user runs it after `init`: it trains, then classifies images/.
      const runnable = docExamples.flatMap((b, i) => (b.info === 'ts run' ? [i] : []));
      assert.ok(runnable.length > 0, 'docs/guides/library.md has a `ts run` example');
      for (const i of runnable) {
        const { stdout } = await exec(process.execPath, [`out/doc-example-${i}.js`], {
          cwd: project,
          maxBuffer: 64 << 20,
          // Killed if it hangs: node:test's timeout would fail the test and leave the program running.
          timeout: 300_000,
        });
        assert.match(stdout, /^epoch 1: loss [\d.]+, val_accuracy [\d.]+$/m, stdout);
        assert.match(stdout, /^completed \S+\/runs\/project\/0001-[0-9a-f]{8}: test accuracy 0\.\d+$/m, stdout);
        assert.equal(stdout.match(/^images\/digit-\d\.png: \w+ [\d.]+%, \w+ [\d.]+%$/gm)?.length, 6, stdout);
      }
    },
  );
});
