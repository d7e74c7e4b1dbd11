import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import type { AuditOutput, ExampleRef } from '../../src/engine/audit/audit-types.js';
import { AUDIT_FILE, createAuditFolder, readAudit, writeAudit } from '../../src/store/audit-file.js';
import { fixCsv, fixRows } from '../../src/store/fix-file.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-audit-file-'));
after(() => rmSync(root, { recursive: true, force: true }));
const pipelineDir = path.join(root, 'pipelines');

const example = (split: ExampleRef['split'], index: number, label: number): ExampleRef => ({
  split,
  index,
  name: path.join(pipelineDir, 'data', split, String(label), `${index}.png`),
  label,
});

/** An audit as the engine returns it: one label issue, one exact leak, one moved copy within train. */
const output: AuditOutput = {
  result: {
    classes: ['cat', 'dog'],
    examples: { train: 10, validation: 0, test: 4 },
    features: { shape: [8], width: 8 },
    settings: { folds: 5, threshold: 0.995, seed: 1 },
    outOfFoldAccuracy: 0.9,
    weakFeatures: false,
    labelIssues: {
      total: 1,
      thresholds: [0.8, 0.7],
      confidentJoint: [
        [5, 1],
        [0, 4],
      ],
      shown: [{ ...example('train', 3, 0), suggested: 1, selfConfidence: 0.1, margin: 0.8 }],
    },
    duplicates: {
      leaks: [{ kind: 'leak', a: example('test', 1, 1), b: example('train', 7, 1), similarity: 1, exact: true }],
      within: [
        {
          kind: 'duplicate',
          a: example('train', 2, 0),
          b: example('train', 5, 0),
          similarity: 0.9,
          exact: false,
          pixelDistance: 0.05,
        },
      ],
      counts: { exactLeaks: 1, nearLeaks: 0, exactWithin: 0, nearWithin: 1 },
    },
    balance: { counts: [7, 7], ratio: 1, warn: false, perSplit: { train: [5, 5], validation: [0, 0], test: [2, 2] } },
    confusion: {
      matrix: [
        [6, 1],
        [0, 7],
      ],
      hardPairs: [],
    },
    shift: { auroc: 0.52, warn: false, train: 10, test: 4 },
    imageStatistics: {
      perClass: [
        { brightness: 100, contrast: 30, count: 7 },
        { brightness: 104, contrast: 31, count: 7 },
      ],
      outliers: [],
    },
    seconds: 1.5,
  },
  thumbnails: [{ split: 'train', index: 3, png: Uint8Array.from([137, 80, 78, 71]) }],
};

describe('audit.json', () => {
  it('is written with examples named relative to the pipeline, thumbnails as base64, and read back as written', async () => {
    const dir = await createAuditFolder(root, 'pets');
    assert.equal(path.relative(root, dir), path.join('pets', 'audits', '0001'));
    assert.equal(path.basename(await createAuditFolder(root, 'pets')), '0002');
    const stored = await writeAudit(dir, output, pipelineDir);
    assert.equal(stored.labelIssues.shown[0]!.name, 'data/train/0/3.png');
    assert.deepEqual(stored.thumbnails, { 'train:3': Buffer.from([137, 80, 78, 71]).toString('base64') });
    assert.deepEqual(await readAudit(dir), stored);
  });

  const damaged: { name: string; text: string; message: RegExp }[] = [
    { name: 'not JSON', text: '{"version": 1,', message: /is not valid JSON/ },
    {
      name: 'another shape',
      text: JSON.stringify({ version: 1, classes: 'cat' }),
      message: /is not a data audit as tlpipe writes it/,
    },
    {
      name: 'a thumbnail that is not base64',
      text: JSON.stringify({ ...output.result, version: 1, thumbnails: { 'train:3': '<script>' } }),
      message: /is not a data audit/,
    },
  ];
  for (const c of damaged)
    it(`refuses a damaged file (${c.name}) with what to do, as a user error`, async () => {
      const dir = path.join(root, 'damaged', c.name.replace(/\W+/g, '-'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, AUDIT_FILE), c.text);
      await assert.rejects(readAudit(dir), (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.match(error.message, c.message);
        assert.match(error.hint ?? '', /remove it/);
        return true;
      });
    });

  it('is absent when the run did not audit', async () => {
    const dir = path.join(root, 'none');
    mkdirSync(dir);
    assert.equal(await readAudit(dir), undefined);
  });
});

describe('the --fix CSV', () => {
  it('relabels each label issue, removes the held-out copy of each exact leak, leaves near copies to a person', async () => {
    const stored = await writeAudit(await createAuditFolder(root, 'fix'), output, pipelineDir);
    const rows = fixRows(stored);
    assert.deepEqual(
      rows.map((r) => [r.example, r.split, r.given, r.suggested]),
      [
        ['data/train/0/3.png', 'train', 'cat', 'dog'],
        ['data/test/1/1.png', 'test', 'dog', 'remove'],
      ],
    );
    const csv = fixCsv(rows).split('\n');
    assert.equal(csv[0], 'example,split,given,suggested,reason,score');
    assert.match(csv[1]!, /^data\/train\/0\/3\.png,train,cat,dog,.*,0\.8000$/);
  });

  it('a value a spreadsheet would run as a formula is quoted safe', () => {
    const csv = fixCsv([{ example: '=cmd()', split: 'train', given: 'a', suggested: 'b', reason: 'r', score: 1 }]);
    assert.doesNotMatch(csv.split('\n')[1]!, /^=/);
  });
});
