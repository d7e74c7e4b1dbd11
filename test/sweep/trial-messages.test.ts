import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveSweep } from '../../src/plan/sweep-trials.js';
import type { SweepRecord } from '../../src/store/sweep-folder.js';
import {
  checkQueueJob,
  MAX_QUEUE_JOB_BYTES,
  QUEUE_JOB_NAME,
  QUEUE_JOB_VERSION,
  queueJobSignature,
  signedQueueJob,
  trialJobOf,
  type QueueJob,
} from '../../src/sweep/trial-messages.js';

const SECRET = 'shared by the sweep and its workers';
const job = (over: Record<string, unknown> = {}): QueueJob =>
  ({
    v: QUEUE_JOB_VERSION,
    pipeline: 'grid',
    sweep: '0001-0123abcd',
    uid: 'a'.repeat(32),
    index: 3,
    fingerprint: 'f'.repeat(64),
    ...over,
  }) as QueueJob;

describe('checkQueueJob: a job from Redis checked before anything is done with it', () => {
  const cases: { name: string; jobName?: unknown; data: unknown; secret?: string; reason?: RegExp }[] = [
    { name: 'a valid job, no secret', data: job() },
    { name: 'a valid job signed, with the secret', data: signedQueueJob(job(), SECRET), secret: SECRET },
    { name: 'a signed job, to a worker without a secret', data: signedQueueJob(job(), SECRET) },
    { name: 'another job name', jobName: 'evil', data: job(), reason: /^its name is "evil", not "trial"$/ },
    {
      name: 'a job name that is not a string',
      jobName: { x: 1 },
      data: job(),
      reason: /^its name is "\[object Object\]"/,
    },
    {
      name: 'more than the bytes of a job',
      data: job({ pipeline: 'a'.repeat(MAX_QUEUE_JOB_BYTES) }),
      reason: /^its data is \d+ bytes, more than the 1024 a trial job has$/,
    },
    {
      name: 'a job of the first version (no plan fingerprint)',
      data: { v: 1, pipeline: 'grid', sweep: '0001-0123abcd', uid: 'a'.repeat(32), index: 0 },
      reason: /^it is a version 1 trial job \(another tlpipe queued it\); this worker takes version 2$/,
    },
    {
      name: 'no plan fingerprint',
      data: (({ fingerprint: _f, ...rest }) => rest)(job()),
      reason: /must have required property 'fingerprint'/,
    },
    {
      name: 'a fingerprint that is not 64 hex digits',
      data: job({ fingerprint: '../../etc' }),
      reason: /fingerprint must match pattern/,
    },
    { name: 'an unknown field', data: job({ text: 'dataset: {}' }), reason: /has an unknown field "text"/ },
    { name: 'an index that is a path', data: job({ index: '../x' }), reason: /index must be integer/ },
    { name: 'not an object', data: 'grid/sweeps/0001', reason: /the job must be object/ },
    { name: 'null', data: null, reason: /the job must be object/ },
    {
      name: 'unsigned, to a worker with a secret',
      data: job(),
      secret: SECRET,
      reason: /^it is not signed, and this worker takes only jobs signed with its TLPIPE_QUEUE_SECRET$/,
    },
    {
      name: 'signed with another secret',
      data: signedQueueJob(job(), 'guessed'),
      secret: SECRET,
      reason: /^its signature does not match this worker's TLPIPE_QUEUE_SECRET$/,
    },
    {
      name: 'its plan fingerprint changed after signing',
      data: { ...signedQueueJob(job(), SECRET), fingerprint: 'e'.repeat(64) },
      secret: SECRET,
      reason: /^its signature does not match/,
    },
    {
      name: 'its index changed after signing',
      data: { ...signedQueueJob(job(), SECRET), index: 4 },
      secret: SECRET,
      reason: /^its signature does not match/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const checked = checkQueueJob('jobName' in c ? c.jobName : QUEUE_JOB_NAME, c.data, c.secret);
      if (!c.reason) assert.deepEqual(checked, { ok: true, job: c.data });
      else {
        assert.equal(checked.ok, false);
        assert.match((checked as { reason: string }).reason, c.reason);
      }
    });
  }

  it('the signature covers every field but itself, in any key order', () => {
    const signed = signedQueueJob(job(), SECRET);
    assert.match(signed.sig!, /^[0-9a-f]{64}$/);
    const reordered = Object.fromEntries(Object.entries(signed).reverse()) as QueueJob;
    assert.equal(queueJobSignature(reordered, SECRET), signed.sig);
    for (const key of ['pipeline', 'sweep', 'uid', 'index', 'fingerprint'] as const) {
      const changed = { ...job(), [key]: key === 'index' ? 4 : `${String(job()[key])}0` };
      assert.notEqual(queueJobSignature(changed, SECRET), signed.sig, key);
    }
    assert.deepEqual(signedQueueJob(job(), undefined), job(), 'no secret: no signature');
  });
});

describe('trialJobOf: a trial as its process gets it, from the sweep record', () => {
  const record = (over: Partial<SweepRecord> = {}): SweepRecord => ({
    id: '0001-0123abcd',
    pipeline: 'grid',
    file: '/p/grid.yaml',
    text: 'name: grid',
    createdAt: '2026-01-01T00:00:00.000Z',
    status: 'running',
    spec: resolveSweep({ parameters: { 'train.batchSize': { values: [8, 16] }, 'base.cut': { values: ['a'] } } }, 1),
    trials: [
      {
        index: 1,
        values: { 'train.batchSize': 16, 'base.cut': 'a' },
        fingerprint: 'f'.repeat(64),
        epochs: 2,
        sections: { 'train.x': '00000001' },
      },
    ],
    runner: { kind: 'local', jobs: 1 },
    overrides: [{ path: 'seed', value: 3 }],
    sharedSections: { 'data.digest': '0123abcd' },
    ...over,
  });
  const cases: {
    name: string;
    record: SweepRecord;
    options?: Parameters<typeof trialJobOf>[3];
    expect: Partial<ReturnType<typeof trialJobOf>>;
  }[] = [
    {
      name: "the command line's values, then the trial's; its plan with the shared and its own sections",
      record: record(),
      expect: {
        overrides: [
          { path: 'seed', value: 3 },
          { path: 'train.batchSize', value: 16 },
          { path: 'base.cut', value: 'a' },
        ],
        plan: { fingerprint: 'f'.repeat(64), sections: { 'data.digest': '0123abcd', 'train.x': '00000001' } },
      },
    },
    {
      name: 'a sweep of an older tlpipe (no sections): the fingerprint alone',
      record: record({ sharedSections: undefined }),
      expect: { plan: { fingerprint: 'f'.repeat(64) } },
    },
    {
      name: 'damaged sections: the fingerprint alone',
      record: record({ sharedSections: { 'data.digest': '<script>' } }),
      expect: { plan: { fingerprint: 'f'.repeat(64) } },
    },
    {
      name: 'the backend and --no-cache passed on',
      record: record(),
      options: { backend: 'wasm', noCache: true },
      expect: { backend: 'wasm', noCache: true },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const made = trialJobOf(c.record, 'grid/sweeps/0001-0123abcd', c.record.trials[0]!, c.options);
      assert.equal(made.sweep, 'grid/sweeps/0001-0123abcd');
      assert.equal(made.index, 1);
      for (const [key, value] of Object.entries(c.expect)) assert.deepEqual(made[key as keyof typeof made], value, key);
    });
  }
});
