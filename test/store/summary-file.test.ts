import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { readSummary, SUMMARY_FILE, writeSummary, type RunSummary } from '../../src/store/summary-file.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-summary-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const folder = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  return dir;
};

/** The pipeline's folder, whose paths summary.json keeps relative. */
const pipelineDir = path.join(root, 'pipelines');
const test = (example: string) => ({
  loss: 0.4,
  accuracy: 0.75,
  examples: 4,
  topK: { '1': 0.75 },
  perClass: {
    cat: { precision: 1, recall: 0.5, f1: 0.667, support: 2 },
    dog: { precision: 0.667, recall: 1, f1: 0.8, support: 2 },
  },
  confusionMatrix: [
    [1, 1],
    [0, 2],
  ],
  worst: [{ example, actual: 'cat', predicted: 'dog', probabilityOfActual: 0.2, probabilityOfPredicted: 0.8 }],
});
/** A completed run's summary as the API hands it over: the files it names absolute. */
const summary = (): RunSummary =>
  ({
    status: 'completed',
    pipeline: 'pets',
    run: '0001-abcdef12',
    backend: 'wasm',
    classes: ['cat', 'dog'],
    data: {
      counts: { train: 8, validation: 2, test: 4 },
      storage: 'memory',
      skipped: [
        { file: path.join(pipelineDir, 'data/cat/bad.jpg'), reason: `${pipelineDir}/data/cat/bad.jpg: truncated` },
      ],
      ignored: 0,
    },
    stages: [{ name: 'head', epochs: 3, epochsRun: 2, stoppedEarly: true, restoredEpoch: 1, lastLearningRate: 0.01 }],
    test: test(path.join(pipelineDir, 'data/cat/1.jpg')),
    baseline: {
      kind: 'scratch',
      stages: [{ name: 'head', epochs: 3, epochsRun: 3, stoppedEarly: false, lastLearningRate: 0.01 }],
      test: test(path.join(pipelineDir, 'data/cat/2.jpg')),
    },
    export: { dir: 'model', verified: true, maxAbsDifference: 0, probeExamples: 4 },
    resources: { peakRssMiB: 300, seconds: 12.5 },
  }) as unknown as RunSummary;

describe('summary.json', () => {
  it("keeps every file it names relative to the pipeline's folder, and reads back as written", async () => {
    const dir = folder();
    await writeSummary(dir, summary(), pipelineDir);
    const written = JSON.parse(readFileSync(path.join(dir, SUMMARY_FILE), 'utf8'));
    assert.deepEqual(written.data.skipped, [{ file: 'data/cat/bad.jpg', reason: 'data/cat/bad.jpg: truncated' }]);
    assert.equal(written.test.worst[0].example, 'data/cat/1.jpg');
    assert.equal(written.baseline.test.worst[0].example, 'data/cat/2.jpg');
    assert.deepEqual(await readSummary(dir), written);
  });

  it('without a pipeline folder, paths are relative to the run folder', async () => {
    const dir = folder();
    await writeSummary(dir, { ...summary(), test: test(path.join(dir, 'x.png')) } as unknown as RunSummary);
    assert.equal((await readSummary(dir))!.test!.worst[0]!.example, 'x.png');
  });

  it('adapt: the domain shift before and after reads back as written', async () => {
    const dir = folder();
    const domainShift = {
      before: { auroc: 0.97 },
      after: { auroc: 0.61 },
      train: 500,
      target: 120,
      features: 'block_2_add pooled',
    };
    await writeSummary(dir, { ...summary(), domainShift }, pipelineDir);
    assert.deepEqual((await readSummary(dir))!.domainShift, domainShift);
  });

  it('a run that has not completed has none', async () => assert.equal(await readSummary(folder()), undefined));

  const damaged: { name: string; text: string; problem: RegExp }[] = [
    { name: 'not JSON', text: '{"status": "compl', problem: /summary\.json is not valid JSON$/ },
    { name: 'an array', text: '[]', problem: /summary\.json is not a run's summary .*: the whole file must be object/ },
    {
      name: 'a test accuracy that is a string',
      text: JSON.stringify({ ...summary(), test: { ...test('a.png'), accuracy: '75%' } }),
      problem: /\/test\/accuracy must be number/,
    },
    {
      name: 'a negative count',
      text: JSON.stringify({ ...summary(), data: { counts: { train: -1, validation: 2, test: 4 } } }),
      problem: /\/data\/counts\/train must be >= 0/,
    },
    {
      name: 'a domain shift AUROC above 1',
      text: JSON.stringify({
        ...summary(),
        domainShift: { before: { auroc: 1.5 }, after: { auroc: 0.6 }, train: 10, target: 10, features: 'x pooled' },
      }),
      problem: /\/domainShift\/before\/auroc must be <= 1/,
    },
    {
      name: 'a status other than completed',
      text: JSON.stringify({ ...summary(), status: 'running' }),
      problem: /\/status must be equal to constant/,
    },
  ];
  for (const c of damaged) {
    it(`${c.name}: a user error naming the file, with how to go on`, async () => {
      const dir = folder();
      writeFileSync(path.join(dir, SUMMARY_FILE), c.text);
      await assert.rejects(
        readSummary(dir),
        (error: unknown) =>
          error instanceof UserError &&
          error.message.startsWith(path.join(dir, SUMMARY_FILE)) &&
          c.problem.test(error.message) &&
          /run the pipeline again/.test(error.hint ?? ''),
      );
    });
  }
});
