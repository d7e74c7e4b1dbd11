import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Option } from 'commander';
import { settingsTable } from '../../src/api/settings.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { EXIT } from '../../src/cli/output.js';
import { commandTree } from '../../src/cli/program.js';
import { pipelineJsonSchema } from '../../src/format/schema.js';
import { packageRoot } from '../../src/package/package-root.js';
import { cliReference } from '../../scripts/reference/cli-reference.js';
import { keyRows, pipelineReference, type SchemaNode } from '../../scripts/reference/pipeline-reference.js';
import { CLI_REFERENCE, PIPELINE_REFERENCE, referencePages } from '../../scripts/reference/reference-pages.js';

const committed = (file: string): string => readFileSync(path.join(packageRoot(), file), 'utf8');
const schema = (): SchemaNode => JSON.parse(pipelineJsonSchema()) as SchemaNode;
const cliSources = () => ({
  program: commandTree(),
  settings: [{ heading: 'All', rows: settingsTable() }],
  exitCodes: EXIT,
});

describe('the generated reference (docs/reference)', () => {
  for (const [file, text] of referencePages())
    it(`${file} is what npm run docs writes from the code (run it after changing the schema or the command table)`, () => {
      assert.equal(committed(file), text);
    });

  it('every key of the schema has a row, and every command, option and TLPIPE_* variable is in the CLI page', () => {
    const pipelinePage = committed(PIPELINE_REFERENCE);
    const rows = keyRows(schema());
    assert.ok(rows.length > 150, `${rows.length} keys`);
    for (const row of rows) assert.ok(pipelinePage.includes(`\`${row.path}\``), row.path);
    for (const key of [
      'train.stages[].optimizer.learningRate',
      'head[].dense.units',
      'dataset.source.labelMap.<name>',
      'sweep.parameters.<name>.distribution',
    ])
      assert.ok(
        rows.some((r) => r.path === key),
        key,
      );
    const cliPage = committed(CLI_REFERENCE);
    for (const spec of COMMANDS) {
      assert.ok(cliPage.includes(`## \`tlpipe ${spec.name}\``), spec.name);
      for (const option of spec.options)
        assert.ok(cliPage.includes(`| \`${option.flags}\` |`), `${spec.name} ${option.flags}`);
    }
    for (const setting of settingsTable()) assert.ok(cliPage.includes(`| \`${setting.name}\` |`), setting.name);
  });

  const failures: { name: string; write: () => string; message: RegExp }[] = [
    {
      name: 'a pipeline key added without a description',
      write: () => {
        const s = schema();
        s.properties!['train']!.properties!['warmStart'] = { type: 'boolean' };
        return pipelineReference(s);
      },
      message: /the pipeline key train\.warmStart has no description/,
    },
    {
      name: 'a key of a list item (a head layer) added without a description',
      write: () => {
        const s = schema();
        const layer = (s.properties!['head']!.anyOf![0]!.items as SchemaNode).properties!['dense']!;
        layer.properties!['initializer'] = { type: 'string', description: ' ' };
        return pipelineReference(s);
      },
      message: /head\[\]\.dense\.initializer has no description/,
    },
    {
      name: 'an option added without a description',
      write: () => {
        const program = commandTree();
        program.commands.find((c) => c.name() === 'run')!.addOption(new Option('--dry-run'));
        return cliReference({ ...cliSources(), program });
      },
      message: /the option --dry-run of run has no description/,
    },
    {
      name: 'a command added without a summary',
      write: () => {
        const program = commandTree();
        program.command('doctor');
        return cliReference({ ...cliSources(), program });
      },
      message: /the command doctor has no description/,
    },
    {
      name: 'an exit code without its meaning',
      write: () => cliReference({ ...cliSources(), exitCodes: { ...EXIT, timedOut: 124 } }),
      message: /the exit code timedOut \(124\) has no meaning/,
    },
  ];
  for (const c of failures) it(`fails on ${c.name}`, () => assert.throws(c.write, c.message));

  it('a key added with its description but without npm run docs makes the committed page stale', () => {
    const s = schema();
    s.properties!['train']!.properties!['warmStart'] = { type: 'boolean', description: 'Start from the last run.' };
    const page = pipelineReference(s);
    assert.match(page, /\| `train\.warmStart` \| boolean \| {2}\| Start from the last run\. \|/);
    assert.notEqual(page, committed(PIPELINE_REFERENCE));
  });
});
