import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkpointModelProblem,
  trainerStateProblem,
  weightSpecsProblem,
} from '../../../src/engine/train/checkpoint-checks.js';
import { checkpointIndexProblem } from '../../../src/store/checkpoint-index.js';
import { runRecordProblem } from '../../../src/store/run-record.js';
import { compileSmall, smallPlanInputs } from '../../fixtures/small-plan.js';

/** Two stages: head (epochs 1–3, early stopping) and tune (epochs 4–5). */
function plan() {
  return compileSmall(`dataset: { format: idx, train: { images: a, labels: b }, test: { images: c, labels: d } }
base: { model: ./m.json, cut: top }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { name: head, epochs: 3, earlyStopping: { patience: 5 } }
    - { name: tune, epochs: 2, unfreeze: ['conv'] }
`).plan;
}

/** A trainer state as CheckpointWriter writes it for epoch 2 of the head stage: 24 bytes of optimizer state. */
function headState(): Record<string, unknown> {
  return {
    formatVersion: 1,
    stage: 'head',
    stageIndex: 0,
    epoch: 2,
    model: 'head',
    stageState: {
      stageEpoch: 2,
      done: false,
      stoppedEarly: false,
      earlyStopping: { best: 0.5, bestEpoch: 2, wait: 0 },
    },
    metrics: { stage: 'head', epoch: 2, stageEpoch: 2, loss: 0.7, accuracy: 0.5, lr: 0.01, seconds: 1 },
    random: { shuffle: 123, dropout: 456 },
    completedStages: [],
    optimizers: [
      {
        group: 'head',
        weightSpecs: [
          { name: 'iter', shape: [], dtype: 'float32' },
          { name: 'k/m', shape: [5], dtype: 'float32' },
        ],
        byteOffset: 0,
        byteLength: 24,
      },
    ],
  };
}

describe('trainer-state.json is checked against the plan before use', () => {
  const p = plan();
  const dir = 'checkpoints/epoch-002';
  const cases: { name: string; edit: (s: Record<string, any>) => void; bytes?: number; problem: RegExp }[] = [
    {
      name: 'epoch 7 of a 3-epoch stage',
      edit: (s) => (s['epoch'] = 7),
      problem: /says epoch 7 of stage head, whose epochs are 1–3/,
    },
    { name: 'epoch 0', edit: (s) => (s['epoch'] = 0), problem: /says epoch 0 of stage head/ },
    {
      name: 'an epoch of the next stage in the head stage',
      edit: (s) => (s['epoch'] = 4),
      problem: /epoch 4 of stage head/,
    },
    { name: 'a fractional epoch', edit: (s) => (s['epoch'] = 1.5), problem: /says epoch 1.5/ },
    {
      name: 'a stage index beyond the plan',
      edit: (s) => (s['stageIndex'] = 9),
      problem: /stage index 9; the plan has 2 stage/,
    },
    {
      name: 'a stage name the plan has elsewhere',
      edit: (s) => (s['stage'] = 'tune'),
      problem: /names stage "tune" at index 0, where the plan has "head"/,
    },
    {
      name: 'an epoch in another folder',
      edit: (s) => (
        (s['epoch'] = 3),
        (s['stageState'].stageEpoch = 3),
        (s['stageState'].done = true),
        (s['metrics'].epoch = 3)
      ),
      problem: /says epoch 3, but it is in checkpoints\/epoch-002/,
    },
    {
      name: 'a stage epoch that does not match',
      edit: (s) => (s['stageState'].stageEpoch = 5),
      problem: /stage epoch 5, not 2/,
    },
    {
      name: 'no early-stopping state where the plan has early stopping',
      edit: (s) => delete s['stageState'].earlyStopping,
      problem: /early-stopping state is missing/,
    },
    {
      name: 'a best epoch in the future',
      edit: (s) => (s['stageState'].earlyStopping.bestEpoch = 9),
      problem: /best epoch 9/,
    },
    {
      name: 'metrics of another epoch',
      edit: (s) => (s['metrics'].epoch = 1),
      problem: /metrics are not those of epoch 2/,
    },
    { name: 'a random state that is not 32-bit', edit: (s) => (s['random'].shuffle = -1), problem: /random streams/ },
    {
      name: 'a completed stage before the first',
      edit: (s) =>
        (s['completedStages'] = [
          { name: 'head', epochs: 3, epochsRun: 3, stoppedEarly: false, lastLearningRate: 0.01 },
        ]),
      problem: /lists 1 completed stage\(s\) before stage 1/,
    },
    {
      name: 'an optimizer for a group the stage does not have',
      edit: (s) => (s['optimizers'][0].group = 'base'),
      problem: /group "base", not one of stage head's groups/,
    },
    {
      name: 'an optimizer range past optimizer.bin',
      edit: (s) => (s['optimizers'][0].byteLength = 48),
      problem: /bytes 0\+48, outside optimizer\.bin's 24 bytes/,
    },
    {
      name: 'an optimizer that starts inside another',
      edit: (s) => (s['optimizers'][0].byteOffset = 4),
      problem: /at bytes 4\+24/,
    },
    {
      name: 'optimizer specs declaring more than their range',
      edit: (s) => (s['optimizers'][0].weightSpecs[1].shape = [2 ** 31, 2 ** 31]),
      problem: /declares \[2147483648,2147483648\] float32, more than the 24 bytes/,
    },
    {
      name: 'optimizer specs declaring less than their range',
      edit: (s) => (s['optimizers'][0].weightSpecs[1].shape = [4]),
      problem: /declare 20 bytes, but there are 24/,
    },
    {
      name: 'an optimizer dtype tlpipe never writes',
      edit: (s) => (s['optimizers'][0].weightSpecs[1].dtype = 'complex64'),
      problem: /dtype "complex64"/,
    },
    {
      name: 'a negative dimension',
      edit: (s) => (s['optimizers'][0].weightSpecs[1].shape = [-5]),
      problem: /shape \[-5\]/,
    },
    {
      name: 'optimizer.bin longer than the state accounts for',
      edit: () => undefined,
      bytes: 28,
      problem: /accounts for 24 bytes of optimizer\.bin's 28/,
    },
    {
      name: 'not an object',
      edit: (s) => Object.keys(s).forEach((k) => delete s[k]),
      problem: /not a trainer state tlpipe wrote/,
    },
  ];
  it('the state as written passes', () => assert.equal(trainerStateProblem(headState(), p, dir, 24), undefined));
  for (const c of cases) {
    it(c.name, () => {
      const state = headState();
      c.edit(state);
      assert.match(trainerStateProblem(state, p, dir, c.bytes ?? 24) ?? 'accepted', c.problem);
    });
  }
});

/** adapt.method dann: stage tune (epochs 4–5) trains a domain classifier, kept after the optimizers in optimizer.bin. */
describe("trainer-state.json's domain classifier (adapt.method: dann) is checked like the optimizers", () => {
  const danPlan = compileSmall(
    `dataset: { format: idx, train: { images: a, labels: b }, test: { images: c, labels: d } }
base: { model: ./m.json, cut: top }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
adapt: { images: target, method: dann }
train:
  stages:
    - { name: head, epochs: 3 }
    - { name: tune, epochs: 2, unfreeze: ['conv'] }
`,
    { ...smallPlanInputs(), adapt: { images: 10, digest: 't'.repeat(64) } },
  ).plan;
  const range = (byteOffset: number, byteLength: number) => ({
    weightSpecs: [{ name: 'w0', shape: [byteLength / 4], dtype: 'float32' }],
    byteOffset,
    byteLength,
  });
  /** Epoch 4, the tune stage's first: 24 bytes of the head group's optimizer, then 16 of classifier weights and 8 of its Adam state. */
  const tuneState = (): Record<string, any> => ({
    ...headState(),
    stage: 'tune',
    stageIndex: 1,
    epoch: 4,
    model: 'full',
    stageState: { stageEpoch: 1, done: false, stoppedEarly: false },
    metrics: { stage: 'tune', epoch: 4, stageEpoch: 1, loss: 0.7, accuracy: 0.5, lr: 0.01, seconds: 1 },
    completedStages: [{ name: 'head', epochs: 3, epochsRun: 3, stoppedEarly: false, lastLearningRate: 0.001 }],
    domainClassifier: { weights: range(24, 16), optimizer: { ...range(40, 8), accBeta: [0.9, 0.999] } },
  });
  const dir = 'checkpoints/epoch-004';
  it('the state as written passes', () => assert.equal(trainerStateProblem(tuneState(), danPlan, dir, 48), undefined));
  const cases: { name: string; edit: (s: Record<string, any>) => void; bytes?: number; problem: RegExp }[] = [
    {
      name: 'missing where the stage trains one',
      edit: (s) => delete s['domainClassifier'],
      problem: /has no domain classifier, and the plan's stage trains one/,
    },
    {
      name: 'weights overlapping the optimizers',
      edit: (s) => (s['domainClassifier'].weights.byteOffset = 20),
      problem: /domain classifier weights are not at bytes 24\+/,
    },
    {
      name: 'Adam state past the end of optimizer.bin',
      edit: (s) => (s['domainClassifier'].optimizer = range(40, 16)),
      problem: /domain classifier optimizer are not at bytes 40\+ inside optimizer\.bin's 48 bytes/,
    },
    {
      name: 'specs that do not add up to the range',
      edit: (s) => (s['domainClassifier'].weights.weightSpecs[0].shape = [5]),
      problem: /domain classifier weights/,
    },
    {
      name: 'a damaged Adam state',
      edit: (s) => (s['domainClassifier'].optimizer.accBeta = ['x', 1]),
      problem: /damaged Adam state/,
    },
    {
      name: 'bytes left over after it',
      edit: () => undefined,
      bytes: 52,
      problem: /accounts for 48 bytes of optimizer\.bin's 52/,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const state = tuneState();
      c.edit(state);
      assert.match(trainerStateProblem(state, danPlan, dir, c.bytes ?? 48) ?? 'accepted', c.problem);
    });
  it("a stage that trains none refuses one (the plan's own tune stage, without adapt)", () => {
    const state = tuneState();
    assert.match(
      trainerStateProblem(state, plan(), dir, 48) ?? 'accepted',
      /holds a domain classifier, and the plan's stage trains none/,
    );
  });
});

describe('declared weight sizes are bounded before anything is allocated', () => {
  it('adds up exactly, or names the weight', () => {
    assert.equal(
      weightSpecsProblem(
        [
          { name: 'a', shape: [2, 3], dtype: 'float32' },
          { name: 'b', shape: [], dtype: 'int32' },
        ],
        28,
        'w',
      ),
      undefined,
    );
    assert.match(
      weightSpecsProblem([{ name: 'a', shape: [2 ** 31, 2 ** 31, 2 ** 31], dtype: 'float32' }], 28, 'w')!,
      /weight a declares/,
    );
    assert.match(
      weightSpecsProblem([{ name: 'a', shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], dtype: 'float32' }], 4, 'w')!,
      /not a list of at most 8 sizes/,
    );
    assert.match(
      weightSpecsProblem([{ name: 'a', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } }], 4, 'w')!,
      /quantized/,
    );
    assert.match(weightSpecsProblem({ length: 1 }, 4, 'w')!, /not a list/);
  });
  it('model.json: one group in ./weights.bin, never a path elsewhere', () => {
    const model = (paths: unknown) => ({
      modelTopology: {},
      weightsManifest: [{ paths, weights: [{ name: 'a', shape: [1], dtype: 'float32' }] }],
    });
    assert.deepEqual(checkpointModelProblem(model(['./weights.bin']), 4).problem, undefined);
    assert.match(
      checkpointModelProblem(model(['../../../w.bin']), 4).problem!,
      /names weights files \["\.\.\/\.\.\/\.\.\/w\.bin"\]/,
    );
    assert.match(checkpointModelProblem(model(['./weights.bin', './more.bin']), 4).problem!, /not \.\/weights\.bin/);
    assert.match(checkpointModelProblem([], 4).problem!, /not a saved tfjs model/);
  });
});

describe('checkpoints/index.json is checked field by field', () => {
  const entry = (epoch: number) => ({
    dir: `checkpoints/epoch-${String(epoch).padStart(3, '0')}`,
    epoch,
    stage: 'head',
  });
  const index = () =>
    ({
      formatVersion: 1,
      latest: entry(2),
      best: { ...entry(1), monitor: 'val_loss', value: 0.5 },
      stageBest: null,
      kept: [entry(1), entry(2)],
    }) as Record<string, any>;
  const cases: { name: string; edit: (i: Record<string, any>) => void; problem: RegExp }[] = [
    {
      name: 'latest.dir out of the run folder',
      edit: (i) => (i['latest'].dir = '../../../elsewhere'),
      problem: /latest\.dir is "\.\.\/\.\.\/\.\.\/elsewhere", not checkpoints\/epoch-002/,
    },
    {
      name: 'a kept dir out of the run folder',
      edit: (i) => (i['kept'][0].dir = 'checkpoints/../../x'),
      problem: /kept\[0\]\.dir/,
    },
    { name: 'best.dir absolute', edit: (i) => (i['best'].dir = '/etc'), problem: /best\.dir is "\/etc"/ },
    {
      name: "stageBest of another epoch's folder",
      edit: (i) => (i['stageBest'] = { ...entry(1), dir: 'checkpoints/epoch-002' }),
      problem: /stageBest\.dir/,
    },
    { name: 'a fractional epoch', edit: (i) => (i['latest'].epoch = 2.5), problem: /latest\.epoch is 2\.5/ },
    { name: 'a negative epoch', edit: (i) => (i['kept'][1].epoch = -1), problem: /kept\[1\]\.epoch is -1/ },
    {
      name: 'a best value that is not a number',
      edit: (i) => (i['best'].value = 'low'),
      problem: /best has no monitor or value/,
    },
    { name: 'kept not a list', edit: (i) => (i['kept'] = {}), problem: /kept is not a list/ },
    {
      name: 'latest not among the kept',
      edit: (i) => (i['kept'] = [entry(1)]),
      problem: /latest is not among the kept/,
    },
    { name: 'another format', edit: (i) => (i['formatVersion'] = 2), problem: /not a checkpoint index tlpipe wrote/ },
  ];
  it('the index as written passes', () => assert.equal(checkpointIndexProblem(index()), undefined));
  for (const c of cases) {
    it(c.name, () => {
      const i = index();
      c.edit(i);
      assert.match(checkpointIndexProblem(i) ?? 'accepted', c.problem);
    });
  }
});

describe('run.json is checked field by field', () => {
  const record = () =>
    ({
      id: '0001-1a2b3c4d',
      pipeline: 'p',
      status: 'running',
      pid: 1,
      startedAt: '2026-01-01T00:00:00Z',
      fingerprint: '1a2b3c4d',
      seed: 1,
      backend: null,
      git: null,
      versions: { tlpipe: '1', tfjs: '1', node: '1' },
    }) as Record<string, unknown>;
  const cases: { name: string; value: unknown; problem: RegExp }[] = [
    { name: '[]', value: [], problem: /holds a list, not a run record/ },
    { name: 'null', value: null, problem: /holds null/ },
    { name: 'an unknown status', value: { ...record(), status: 'done' }, problem: /status is "done"/ },
    { name: 'an id that leads elsewhere', value: { ...record(), id: '../x' }, problem: /id is "\.\.\/x"/ },
    { name: 'a pipeline name with a slash', value: { ...record(), pipeline: 'a/b' }, problem: /pipeline is "a\/b"/ },
    { name: 'no pid', value: { ...record(), pid: undefined }, problem: /pid is not a process id/ },
    { name: 'resumes not a list', value: { ...record(), resumes: 3 }, problem: /resumes is not a list/ },
    { name: 'host a number', value: { ...record(), host: 7 }, problem: /host is not a machine's name/ },
    { name: 'host empty', value: { ...record(), host: '' }, problem: /host is not a machine's name/ },
    {
      name: 'host 256 characters',
      value: { ...record(), host: 'h'.repeat(256) },
      problem: /host is not a machine's name/,
    },
    {
      name: 'host with a terminal escape',
      value: { ...record(), host: 'a\u001b[2Jb' },
      problem: /host is not a machine's name/,
    },
    {
      name: "a resume's host not a name",
      value: { ...record(), resumes: [{ at: '2026-01-01T00:00:00Z', fromEpoch: 1, pid: 2, host: ['h'] }] },
      problem: /resumes is not a list/,
    },
    { name: 'an error without a message', value: { ...record(), error: 'bad' }, problem: /error has no message/ },
    { name: 'git a string', value: { ...record(), git: 'main' }, problem: /git is not an object/ },
  ];
  it('the record as written passes', () => assert.equal(runRecordProblem(record()), undefined));
  it('with its machine and its resumes', () =>
    assert.equal(
      runRecordProblem({
        ...record(),
        host: 'h'.repeat(255),
        resumes: [
          { at: '2026-01-01T00:00:00Z', fromEpoch: 1, pid: 2, host: 'build-7.example.org' },
          { at: '2026-01-01T00:00:00Z', fromEpoch: 2, pid: 3 },
        ],
      }),
      undefined,
    ));
  for (const c of cases) it(c.name, () => assert.match(runRecordProblem(c.value) ?? 'accepted', c.problem));
});
