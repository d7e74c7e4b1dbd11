import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { packageRoot } from '../../src/package/package-root.js';
import { readJson, tlpipe, workspace } from './cli-harness.js';

const TABLES = path.join(packageRoot(), 'test', 'fixtures', 'tables');

/** The report's Run table cell for `key`. */
const reportCell = (file: string, key: string): string | undefined =>
  new RegExp(`<th>${key}</th><td>([^<]*)</td>`).exec(readFileSync(file, 'utf8'))?.[1];

/** How the report writes a duration: under a minute to a tenth, else minutes and seconds. */
const asReported = (seconds: number): string =>
  seconds < 60
    ? `${seconds.toFixed(1)} s`
    : `${Math.floor(Math.round(seconds) / 60)} min ${Math.round(seconds) % 60} s`;

/**
 * What a new user reads about a run of a table (wine, `base: none`, a few
 * epochs), from the CLI in the folder holding the pipeline and its CSVs.
 */
describe('a tabular run, as its commands print it', () => {
  const dir = workspace('tabular-output');
  const runs = path.join(dir, 'runs');
  let run = '';
  before(async () => {
    for (const file of ['wine.yaml', 'wine-train.csv', 'wine-test.csv'])
      cpSync(path.join(TABLES, file), path.join(dir, file));
    const ran = await tlpipe(['run', 'wine.yaml', '--runs', runs, '--quiet', '--set', 'train.stages[0].epochs=4'], dir);
    assert.equal(ran.code, 0, ran.stderr);
    const [id] = readdirSync(path.join(runs, 'wine')).filter((f) => /^\d{4}-/.test(f));
    run = path.join(runs, 'wine', id!);
  });

  const cases: { name: string; check: () => Promise<void> }[] = [
    {
      name: "the report's duration is run.json's, as the run wrote it",
      check: async () => {
        const { seconds } = readJson(path.join(run, 'run.json')) as { seconds: number };
        assert.equal(reportCell(path.join(run, 'report.html'), 'duration'), asReported(seconds));
      },
    },
    {
      name: "the report's duration is run.json's when the report is rebuilt (summary.json's seconds differ)",
      check: async () => {
        const copy = path.join(dir, 'rebuilt', 'wine', path.basename(run));
        cpSync(run, copy, { recursive: true });
        const record = readJson(path.join(copy, 'run.json'));
        const endedAt = new Date(Date.parse(record.startedAt) + 75_200).toISOString();
        writeFileSync(path.join(copy, 'run.json'), JSON.stringify({ ...record, endedAt, seconds: 75.2 }));
        const summary = readJson(path.join(copy, 'summary.json'));
        writeFileSync(
          path.join(copy, 'summary.json'),
          JSON.stringify({ ...summary, resources: { ...summary.resources, seconds: 4.4 } }),
        );
        const r = await tlpipe(['report', copy], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(reportCell(path.join(copy, 'report.html'), 'duration'), '1 min 15 s');
        const listed = await tlpipe(['runs', '--runs', path.join(dir, 'rebuilt')], dir);
        assert.match(listed.stdout, / 75\.2 /, 'tlpipe runs says the same duration');
      },
    },
    {
      name: 'data says the feature columns are summed over the training split',
      check: async () => {
        const r = await tlpipe(['data', 'wine.yaml'], dir);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^feature columns \(training split\):\nfeature column +min +mean +max$/m);
      },
    },
    {
      name: "evaluate on the run's own test split names rows relative to the working folder",
      check: async () => {
        const r = await tlpipe(['evaluate', run], dir);
        assert.equal(r.code, 0, r.stderr);
        const rows = r.stdout.split('most wrong')[1]!.trim().split('\n').slice(1);
        assert.ok(rows.length > 0, r.stdout);
        for (const row of rows) assert.match(row, /^ {2}wine-train\.csv:\d+: /);
      },
    },
    {
      name: 'evaluate --data, given as an absolute path, names rows the same way',
      check: async () => {
        const r = await tlpipe(['evaluate', run, '--data', path.join(dir, 'wine-test.csv')], dir);
        assert.equal(r.code, 0, r.stderr);
        const rows = r.stdout.split('most wrong')[1]!.trim().split('\n').slice(1);
        for (const row of rows) assert.match(row, /^ {2}wine-test\.csv:\d+: /);
      },
    },
  ];
  for (const c of cases) it(c.name, c.check);
});
