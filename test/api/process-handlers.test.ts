import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../../src/package/package-root.js';
import { hasStackTrace, workspace, write } from '../e2e/cli-harness.js';

const LIBRARY = pathToFileURL(path.join(packageRoot(), 'dist', 'src', 'api', 'index.js')).href;

/** A user's program: trains a tiny pipeline on the wasm backend through the library, then makes its own mistake. */
function userProgram(mistake: 'throw' | 'reject'): string {
  return `import { run, listModels } from ${JSON.stringify(LIBRARY)};
const pipeline = {
  name: 'handlers', seed: 1, backend: 'wasm',
  dataset: { format: 'mnist', limit: { perClass: 2, testPerClass: 1 }, image: { size: [32, 32] } },
  base: { cut: 'block_2_add' },
  head: [{ globalAveragePooling2d: {} }, { dense: { units: 'classes', activation: 'softmax' } }],
  train: { batchSize: 10, stages: [{ name: 'head', epochs: 1 }] },
};
const result = await run({ pipeline, path: 'handlers.yaml' }, { runsDir: 'runs', noCache: true });
if (!result.ok) { console.log('RUN FAILED', JSON.stringify(result.diagnostics)); process.exit(3); }
const models = await listModels();
console.log(JSON.stringify({ backend: result.value.record.backend ?? null, models: models.ok && Array.isArray(models.value),
  handlers: process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection') }));
${
  mistake === 'throw'
    ? "setTimeout(() => { throw new Error('the user program own mistake'); }, 0);"
    : "Promise.reject(new Error('the user program own mistake'));"
}
`;
}

function node(file: string, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file],
      { cwd, timeout: 300_000, env: { ...process.env, FORCE_COLOR: '0' } },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('the library leaves the process its program’s', () => {
  for (const mistake of ['throw', 'reject'] as const) {
    it(
      `after training on wasm, the program's own ${mistake === 'throw' ? 'uncaught exception' : 'unhandled rejection'} ends it as Node would: exit 1, its own stack, nothing from tfjs`,
      { timeout: 300_000 },
      async () => {
        const dir = workspace('handlers');
        const program = write(dir, 'program.mjs', userProgram(mistake));
        const { code, stdout, stderr } = await node(program, dir);
        assert.doesNotMatch(stdout, /RUN FAILED/, stdout);
        const report = JSON.parse(stdout.trim().split('\n').pop()!) as {
          backend: string;
          models: boolean;
          handlers: number;
        };
        assert.deepEqual(report, { backend: 'wasm', models: true, handlers: 0 });
        assert.equal(code, 1, stderr);
        assert.match(stderr, /the user program own mistake/);
        assert.ok(hasStackTrace(stderr) && stderr.includes(program), stderr);
        assert.doesNotMatch(stderr, /tfjs|tensorflow|emscripten/i);
      },
    );
  }
});
