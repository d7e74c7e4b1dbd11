import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { listModels, plan } from '../../src/api/index.js';
import { TFJS_NODE, VALID as PIPELINE, workspace, write } from '../e2e/cli-harness.js';

describe('API outcomes', () => {
  it('listModels returns { ok, value, diagnostics, warnings } like every other function', async () => {
    const listed = await listModels();
    assert.deepEqual(Object.keys(listed).sort(), ['diagnostics', 'ok', 'value', 'warnings']);
    assert.ok(listed.ok);
    assert.deepEqual(
      listed.value.filter((m) => m.available).map((m) => m.name),
      ['mobilenet_v2', 'inception_v3'],
    );
  });

  it(
    "a backend the caller's option asks for and this machine lacks is reported at the option, not at a line of the file",
    { skip: TFJS_NODE ?? false },
    async () => {
      const dir = workspace('api-backend');
      const file = write(dir, 'p.yaml', PIPELINE);
      const byOption = await plan(file, { backend: 'tensorflow', runsDir: `${dir}/runs` });
      assert.equal(byOption.ok, false);
      assert.deepEqual(
        byOption.diagnostics.map((d) => [d.file, d.line]),
        [["backend option 'tensorflow'", undefined]],
      );
      const byFile = await plan(write(dir, 'q.yaml', PIPELINE.replace('head:\n', 'backend: tensorflow\nhead:\n')), {
        runsDir: `${dir}/runs`,
      });
      assert.equal(byFile.ok, false);
      assert.deepEqual(
        byFile.diagnostics.map((d) => [d.file.endsWith('q.yaml'), d.line, d.col]),
        [[true, 5, 10]],
      );
    },
  );
});
