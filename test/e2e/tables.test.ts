import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadModel } from '../../src/api/load-model.js';
import { packageRoot } from '../../src/package/package-root.js';
import { readJson, tlpipe, workspace, write } from './cli-harness.js';

/** scikit-learn's tables as scripts/make-sklearn-tables.py wrote them, with their pipelines (`base: none`). */
const TABLES = path.join(packageRoot(), 'test', 'fixtures', 'tables');

const CASES = [
  { name: 'wine', columns: 13, classes: 3 },
  { name: 'breast-cancer', columns: 30, classes: 2 },
];

/** Few epochs: the test shows the whole path works on real rows, not how well (the report gives the accuracy at 60). */
const EPOCHS = 8;
/** Far above chance for both tables even at this epoch count (chance: 0.33 and 0.63). */
const ACCURACY_FLOOR = 0.75;

describe('tabular rows end to end: real tables, base: none, validate → plan → run → predict / evaluate on rows', () => {
  const dir = workspace('tables');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const runs = path.join(dir, 'runs');

  for (const c of CASES) {
    it(`${c.name}: ${c.columns} feature columns, ${c.classes} classes`, async () => {
      const pipeline = path.join(TABLES, `${c.name}.yaml`);
      const trainCsv = path.join(TABLES, `${c.name}-train.csv`);
      const testCsv = path.join(TABLES, `${c.name}-test.csv`);

      const validated = await tlpipe(['validate', pipeline], dir);
      assert.equal(validated.code, 0, validated.stderr);

      const planned = await tlpipe(['plan', pipeline], dir);
      assert.equal(planned.code, 0, planned.stderr);
      assert.match(planned.stdout, new RegExp(`^rows: ${c.columns} feature columns \\(`, 'm'));
      assert.match(planned.stdout, /the head trains on the rows themselves/);
      assert.doesNotMatch(planned.stdout, /pixels:|images/);

      const data = await tlpipe(['data', pipeline], dir);
      assert.equal(data.code, 0, data.stderr);
      assert.match(data.stdout, new RegExp(`^rows: ${c.columns} feature columns`, 'm'));
      assert.doesNotMatch(data.stdout, /images as read|fed to the base/);

      const ran = await tlpipe(
        ['run', pipeline, '--runs', runs, '--quiet', '--set', `train.stages[0].epochs=${EPOCHS}`],
        dir,
      );
      assert.equal(ran.code, 0, ran.stderr);
      const [id] = readdirSync(path.join(runs, c.name)).filter((f) => /^\d{4}-/.test(f));
      const run = path.join(runs, c.name, id!);
      const summary = readJson(path.join(run, 'summary.json'));
      assert.ok(summary.test.accuracy >= ACCURACY_FLOOR, `test accuracy ${summary.test.accuracy}`);
      assert.equal(readJson(path.join(run, 'model', 'preprocessing.json')).kind, 'tabular');

      // predict on the training CSV: each test row the run scored gets the same probability back (the same standardisation).
      const predicted = await tlpipe(['predict', run, trainCsv, '--json', '--top', String(c.classes)], dir);
      assert.equal(predicted.code, 0, predicted.stderr);
      const byLine = new Map<string, { label: string; probability: number }[]>(
        predicted.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { file: string; top: { label: string; probability: number }[] })
          .map((p) => [p.file.slice(p.file.lastIndexOf(':')), p.top]),
      );
      assert.equal(
        byLine.size,
        readJson(path.join(run, 'summary.json')).data.counts.train +
          summary.data.counts.validation +
          summary.data.counts.test,
      );
      assert.ok(summary.test.worst.length > 0);
      for (const worst of summary.test.worst as { example: string; actual: string; probabilityOfActual: number }[]) {
        const top = byLine.get(worst.example.slice(worst.example.lastIndexOf(':')));
        const p = top?.find((t) => t.label === worst.actual)?.probability;
        assert.ok(
          p !== undefined && Math.abs(p - worst.probabilityOfActual) < 1e-5,
          `${worst.example}: ${p} vs ${worst.probabilityOfActual}`,
        );
      }

      // The library takes rows in memory, by column name, and answers as the CLI did for the same rows.
      const [header, ...lines] = readFileSync(trainCsv, 'utf8').trim().split('\n');
      const names = header!.split(',');
      const rows = lines.slice(0, 5).map((l) =>
        Object.fromEntries(
          l
            .split(',')
            .slice(0, -1)
            .map((v, i) => [names[i]!, Number(v)]),
        ),
      );
      const loaded = await loadModel(run, { backend: 'cpu' });
      assert.ok(loaded.ok);
      try {
        const { predictions } = await loaded.value.predict(rows, { top: c.classes });
        predictions.forEach((p, i) => {
          const cli = byLine.get(`:${i + 2}`)!;
          for (const t of p.top)
            assert.ok(Math.abs(t.probability - cli.find((x) => x.label === t.label)!.probability) < 1e-5, `row ${i}`);
        });
      } finally {
        loaded.value.dispose();
      }

      // evaluate on its own test split: the run's own numbers.
      const own = await tlpipe(['evaluate', run, '--out', path.join(dir, `${c.name}-own`)], dir);
      assert.equal(own.code, 0, own.stderr);
      assert.equal(readJson(path.join(dir, `${c.name}-own`, 'evaluation.json')).accuracy, summary.test.accuracy);

      // evaluate on the rows the script's logistic regression is scored on.
      const held = await tlpipe(['evaluate', run, '--data', testCsv, '--out', path.join(dir, c.name)], dir);
      assert.equal(held.code, 0, held.stderr);
      assert.match(held.stdout, new RegExp(`on ${c.name}-test\\.csv \\(\\d+ rows\\)|\\(\\d+ rows\\)`));
      assert.ok(readJson(path.join(dir, c.name, 'evaluation.json')).accuracy >= ACCURACY_FLOOR);
    });
  }

  it('rows that do not fit the model: a clear file:line error, exit 1, nothing printed as a prediction', async () => {
    const [id] = readdirSync(path.join(runs, 'wine')).filter((f) => /^\d{4}-/.test(f));
    const run = path.join(runs, 'wine', id!);
    const header = readJson(path.join(run, 'model', 'preprocessing.json')).columns as string[];
    const cases = [
      {
        name: 'missing',
        text: `${header.slice(1).join(',')}\n${header
          .slice(1)
          .map(() => 1)
          .join(',')}\n`,
        command: 'predict',
        err: /missing\.csv:1: no feature column `alcohol`/,
      },
      {
        name: 'word',
        text: `${header.join(',')}\n${header.map((_, i) => (i === 2 ? 'two' : '1')).join(',')}\n`,
        command: 'predict',
        err: /word\.csv:2: column `ash` is not a number: "two"/,
      },
      {
        name: 'short',
        text: `${header.join(',')}\n1,2\n`,
        command: 'predict',
        err: /short\.csv:2: 2 fields, the header has 13/,
      },
      {
        name: 'unlabelled',
        text: `${header.join(',')}\n${header.map(() => 1).join(',')}\n`,
        command: 'evaluate',
        err: /unlabelled\.csv:1: no label column `label`/,
      },
    ];
    for (const c of cases) {
      const file = write(dir, `${c.name}.csv`, c.text);
      const r = await tlpipe(c.command === 'predict' ? ['predict', run, file] : ['evaluate', run, '--data', file], dir);
      assert.equal(r.code, 1, `${c.name}: ${r.stderr}`);
      assert.match(r.stderr, c.err);
      assert.equal(r.stdout, '');
    }
  });
});
