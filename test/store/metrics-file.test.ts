import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import type { EpochMetrics } from '../../src/engine/events.js';
import { appendMetricRow, METRICS_FILES, readMetricRows, truncateMetricRows } from '../../src/store/metrics-file.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-metrics-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const folder = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  return dir;
};

const row = (epoch: number, stage = 'head'): EpochMetrics => ({
  stage,
  epoch,
  stageEpoch: epoch,
  loss: 1 / epoch,
  accuracy: epoch / 10,
  val_loss: 2 / epoch,
  val_accuracy: epoch / 20,
  lr: 0.01,
  seconds: 0.5,
});
const line = (epoch: number): string => JSON.stringify(row(epoch));

describe('metrics.jsonl: rows appended are read back', () => {
  it('in the order appended, each field as written', async () => {
    const dir = folder();
    for (const epoch of [1, 2, 3]) await appendMetricRow(dir, row(epoch));
    assert.deepEqual(await readMetricRows(dir), [row(1), row(2), row(3)]);
    assert.equal(
      readFileSync(path.join(dir, METRICS_FILES.run), 'utf8'),
      [1, 2, 3].map((e) => line(e) + '\n').join(''),
    );
  });

  it("the baseline's rows go to their own file", async () => {
    const dir = folder();
    await appendMetricRow(dir, row(1));
    await appendMetricRow(dir, row(1, 'scratch'), 'baseline');
    assert.deepEqual(await readMetricRows(dir, 'baseline'), [row(1, 'scratch')]);
    assert.deepEqual(await readMetricRows(dir), [row(1)]);
  });

  it('a diverged loss written as null reads back as null', async () => {
    const dir = folder();
    await appendMetricRow(dir, { ...row(1), loss: Number.NaN });
    assert.equal((await readMetricRows(dir))[0]!.loss, null);
  });

  it('no file is no rows', async () => assert.deepEqual(await readMetricRows(folder()), []));
});

describe('metrics.jsonl as a killed or damaged run leaves it', () => {
  const read: { name: string; text: string; epochs: number[] }[] = [
    {
      name: 'a torn last line (killed mid-append) is dropped',
      text: `${line(1)}\n${line(2)}\n{"stage":"he`,
      epochs: [1, 2],
    },
    { name: 'a torn last line followed by blank lines is dropped', text: `${line(1)}\n{"sta\n\n  \n`, epochs: [1] },
    { name: 'blank lines between rows are skipped', text: `${line(1)}\n\n${line(2)}\n`, epochs: [1, 2] },
    { name: 'an empty file has no rows', text: '', epochs: [] },
  ];
  for (const c of read) {
    it(c.name, async () => {
      const dir = folder();
      writeFileSync(path.join(dir, METRICS_FILES.run), c.text);
      assert.deepEqual(
        (await readMetricRows(dir)).map((r) => r.epoch),
        c.epochs,
      );
    });
  }

  const damaged: { name: string; text: string; problem: RegExp }[] = [
    {
      name: 'a line that is not JSON before the last',
      text: `${line(1)}\nnot json\n${line(3)}\n`,
      problem: /metrics\.jsonl:2 is not a JSON line/,
    },
    { name: 'null', text: 'null\n', problem: /metrics\.jsonl:1 is not a metrics row .*: the line must be object/ },
    {
      name: 'an empty object',
      text: `${line(1)}\n{}\n`,
      problem: /metrics\.jsonl:2 is not a metrics row .*must have required property/,
    },
    {
      name: 'a row without its epoch',
      text: `${JSON.stringify({ ...row(1), epoch: undefined })}\n`,
      problem: /metrics\.jsonl:1 is not a metrics row .*'epoch'/,
    },
    {
      name: 'epoch 0',
      text: `${JSON.stringify(row(0))}\n`,
      problem: /metrics\.jsonl:1 is not a metrics row .*: \/epoch must be >= 1/,
    },
    {
      name: 'a loss that is a string',
      text: `${JSON.stringify({ ...row(1), loss: '0.5' })}\n`,
      problem: /metrics\.jsonl:1 .*\/loss must be number/,
    },
  ];
  for (const c of damaged) {
    it(`${c.name}: a user error naming file:line`, async () => {
      const dir = folder();
      writeFileSync(path.join(dir, METRICS_FILES.run), c.text);
      await assert.rejects(
        readMetricRows(dir),
        (error: unknown) =>
          error instanceof UserError &&
          c.problem.test(error.message) &&
          /damaged or edited by hand/.test(error.hint ?? ''),
      );
    });
  }
});

describe('truncateMetricRows (a resume computes the rest again)', () => {
  const cases: { name: string; epochs: number[]; torn: boolean; lastEpoch: number; kept: number[] }[] = [
    {
      name: "keeps the rows up to the checkpoint's epoch",
      epochs: [1, 2, 3, 4],
      torn: false,
      lastEpoch: 2,
      kept: [1, 2],
    },
    { name: 'drops a torn last line as well', epochs: [1, 2, 3], torn: true, lastEpoch: 3, kept: [1, 2, 3] },
    { name: 'epoch 0 keeps none', epochs: [1, 2], torn: false, lastEpoch: 0, kept: [] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = folder();
      writeFileSync(
        path.join(dir, METRICS_FILES.run),
        c.epochs.map((e) => line(e) + '\n').join('') + (c.torn ? '{"stage":' : ''),
      );
      await truncateMetricRows(dir, c.lastEpoch);
      assert.equal(readFileSync(path.join(dir, METRICS_FILES.run), 'utf8'), c.kept.map((e) => line(e) + '\n').join(''));
    });
  }
});
