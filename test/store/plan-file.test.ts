import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { compileSmall } from '../fixtures/small-plan.js';
import {
  PLAN_FILE,
  readPlan,
  readResolved,
  RESOLVED_FILE,
  writePlan,
  writeResolved,
} from '../../src/store/plan-file.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-plan-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const folder = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  return dir;
};

/** A real plan and resolved spec, compiled from a two-stage pipeline. */
function compiled() {
  return compileSmall(`dataset: { format: idx, train: { images: a, labels: b }, test: { images: c, labels: d } }
base: { model: ./m.json, cut: top }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 3 }
    - { name: tune, epochs: 2, unfreeze: ['conv'] }
`);
}

describe('plan.json and resolved.json', () => {
  const { spec, plan } = compiled();

  it('the plan reads back as written, fingerprint and stages included', async () => {
    const dir = folder();
    await writePlan(dir, plan);
    const read = await readPlan(dir);
    assert.deepEqual(read, JSON.parse(JSON.stringify(plan)));
    assert.equal(read.fingerprint, plan.fingerprint);
    assert.deepEqual(
      read.stages.map((s) => [s.name, s.firstEpoch, s.lastEpoch]),
      [
        ['head', 1, 3],
        ['tune', 4, 5],
      ],
    );
  });

  it('the resolved spec reads back as written', async () => {
    const dir = folder();
    await writeResolved(dir, spec);
    assert.deepEqual(await readResolved(dir), JSON.parse(readFileSync(path.join(dir, RESOLVED_FILE), 'utf8')));
    assert.equal((await readResolved(dir))!.train.stages.length, 2);
  });

  it('a run folder without plan.json is incomplete: a user error', async () => {
    const dir = folder();
    await assert.rejects(
      readPlan(dir),
      (error: unknown) =>
        error instanceof UserError &&
        error.message === `${path.join(dir, PLAN_FILE)} not found` &&
        /writes plan\.json before it trains/.test(error.hint ?? ''),
    );
  });

  it('without resolved.json (left out of git) there is none', async () =>
    assert.equal(await readResolved(folder()), undefined));

  const damagedPlans: { name: string; edit: (p: Record<string, unknown>) => unknown; problem: RegExp }[] = [
    {
      name: 'an older format version',
      edit: (p) => ({ ...p, formatVersion: 1 }),
      problem: /is not a plan tlpipe wrote .*\/formatVersion must be equal to constant/,
    },
    { name: 'no stages', edit: (p) => ({ ...p, stages: [] }), problem: /\/stages must NOT have fewer than 1 items/ },
    {
      name: 'a stage without its batch size',
      edit: (p) => ({ ...p, stages: [{ ...(p['stages'] as object[])[0], batchSize: 0 }] }),
      problem: /\/stages\/0\/batchSize must be >= 1/,
    },
    { name: 'a number for the whole file', edit: () => 42, problem: /the whole file must be object/ },
  ];
  for (const c of damagedPlans) {
    it(`plan.json with ${c.name}: a user error naming it`, async () => {
      const dir = folder();
      writeFileSync(
        path.join(dir, PLAN_FILE),
        JSON.stringify(c.edit(JSON.parse(JSON.stringify(plan)) as Record<string, unknown>)),
      );
      await assert.rejects(
        readPlan(dir),
        (error: unknown) =>
          error instanceof UserError &&
          error.message.startsWith(path.join(dir, PLAN_FILE)) &&
          c.problem.test(error.message),
      );
    });
  }

  it('resolved.json that is not JSON: a user error naming it', async () => {
    const dir = folder();
    writeFileSync(path.join(dir, RESOLVED_FILE), '{"name": ');
    await assert.rejects(
      readResolved(dir),
      (error: unknown) =>
        error instanceof UserError && error.message === `${path.join(dir, RESOLVED_FILE)} is not valid JSON`,
    );
  });

  it('resolved.json without stages: a user error naming what it holds', async () => {
    const dir = folder();
    writeFileSync(
      path.join(dir, RESOLVED_FILE),
      JSON.stringify({ ...JSON.parse(JSON.stringify(spec)), train: { stages: [] } }),
    );
    await assert.rejects(
      readResolved(dir),
      /is not a resolved pipeline .*\/train\/stages must NOT have fewer than 1 items/,
    );
  });
});
