/**
 * The generated reference pages, as [file relative to the package root, text]:
 * what `npm run docs` writes and what test/scripts/reference.test.ts compares.
 */
import { settingsTable, TEST_SUITE_VARIABLES, type SettingAudience } from '../../src/api/settings.js';
import { SETTING_GROUPS } from '../../src/cli/format-settings.js';
import { EXIT } from '../../src/cli/output.js';
import { commandTree } from '../../src/cli/program.js';
import { pipelineJsonSchema } from '../../src/format/schema.js';
import { cliReference } from './cli-reference.js';
import { pipelineReference, type SchemaNode } from './pipeline-reference.js';

export const PIPELINE_REFERENCE = 'docs/reference/pipeline.md';
export const CLI_REFERENCE = 'docs/reference/cli.md';

export function referencePages(): [string, string][] {
  const rows = settingsTable();
  const groups = (Object.keys(SETTING_GROUPS) as SettingAudience[]).map((audience) => ({
    heading: SETTING_GROUPS[audience].replace(/:$/, ''),
    rows: rows.filter((r) => r.for === audience),
  }));
  return [
    [PIPELINE_REFERENCE, pipelineReference(JSON.parse(pipelineJsonSchema()) as SchemaNode)],
    [
      CLI_REFERENCE,
      cliReference({
        program: commandTree(),
        settings: [
          ...groups,
          { heading: "Read only by tlpipe's own test suite (test/, .ci/run)", rows: TEST_SUITE_VARIABLES },
        ],
        exitCodes: EXIT,
      }),
    ],
  ];
}
