import { createHmac, timingSafeEqual } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import Ajv2020Module, { type ErrorObject } from 'ajv/dist/2020.js';
import type { RunEvent } from '../engine/events.js';
import { canonicalJson } from '../plan/fingerprint.js';
import { sectionsOrUndefined, type PlanDigest } from '../plan/plan-digest.js';
import type { SweepRecord, SweepTrialPlan } from '../store/sweep-folder.js';

/**
 * A trial as the process that runs it gets it: everything it needs, read
 * from the sweep folder (never from a queue). `sweep` is the sweep folder
 * relative to the runs folder.
 */
export interface TrialJob {
  sweep: string;
  index: number;
  /** The pipeline file (relative paths in it are read from its folder) and its text when the sweep started. */
  file: string;
  text: string;
  overrides: { path: string; value: unknown }[];
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  noCache?: boolean;
  /** The plan the sweep planned for this trial: the trial's process plans it again and refuses a different one. */
  plan: PlanDigest;
}

/** A trial of a sweep as its record describes it: the values of the command line, then the trial's own. */
export function trialJobOf(
  record: SweepRecord,
  sweepRef: string,
  trial: SweepTrialPlan,
  options: { backend?: TrialJob['backend']; noCache?: boolean } = {},
): TrialJob {
  return {
    sweep: sweepRef,
    index: trial.index,
    file: record.file,
    text: record.text,
    overrides: [
      ...(record.overrides ?? []),
      ...record.spec.parameters.map((p) => ({ path: p.name, value: trial.values[p.name] })),
    ],
    plan: expectedPlan(record, trial),
    ...(options.backend ? { backend: options.backend } : {}),
    ...(options.noCache ? { noCache: true } : {}),
  };
}

/**
 * A trial's plan as its sweep's record describes it. The record is read
 * from a folder anyone with access can edit: digests that are not ones
 * leave the comparison to the fingerprint alone.
 */
function expectedPlan(record: SweepRecord, trial: SweepTrialPlan): PlanDigest {
  const shared = sectionsOrUndefined(record.sharedSections);
  const own = sectionsOrUndefined(trial.sections ?? {});
  return { fingerprint: trial.fingerprint, ...(shared && own ? { sections: { ...shared, ...own } } : {}) };
}

/** BullMQ's name of every trial job. */
export const QUEUE_JOB_NAME = 'trial';
/** A queue job is a few names and a number: anything bigger is not one of ours. */
export const MAX_QUEUE_JOB_BYTES = 1024;
/** Trial indices are written with four digits (trials/0007.json). */
export const MAX_TRIAL_INDEX = 9999;
const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

/** The shape of a queue job; 2 added `fingerprint`. */
export const QUEUE_JOB_VERSION = 2;

/**
 * A trial on the queue: only which trial of which sweep. What to run (the
 * pipeline, its values, the backend) the worker reads from the sweep folder
 * under its own runs folder; `uid` tells that folder from another sweep at
 * the same path in another runs folder; `fingerprint` is the trial's plan as
 * the coordinator planned it (the worker checks the sweep folder says the
 * same, and the trial's process that it plans the same); `sig` is the
 * coordinator's HMAC-SHA256 over the rest (TLPIPE_QUEUE_SECRET).
 */
export const QueueJobSchema = Type.Object(
  {
    v: Type.Literal(QUEUE_JOB_VERSION),
    pipeline: Type.String({ pattern: NAME_PATTERN }),
    sweep: Type.String({ pattern: '^\\d{4,6}-[0-9a-f]{8}$' }),
    uid: Type.String({ pattern: '^[0-9a-f]{32}$' }),
    index: Type.Integer({ minimum: 0, maximum: MAX_TRIAL_INDEX }),
    fingerprint: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    sig: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  },
  { additionalProperties: false },
);
export type QueueJob = Static<typeof QueueJobSchema>;

const Ajv2020 = Ajv2020Module.default;
// JSON round trip: TypeBox's markers are symbols, which ajv need not see.
const validateQueueJob = new Ajv2020({ allErrors: true, strict: true }).compile<QueueJob>(
  JSON.parse(JSON.stringify(QueueJobSchema)) as object,
);

/** The signature of a job: HMAC-SHA256 over its canonical JSON without `sig`, hex. */
export function queueJobSignature(job: Omit<QueueJob, 'sig'> & { sig?: string }, secret: string): string {
  const { sig: _sig, ...signed } = job;
  return createHmac('sha256', secret).update(canonicalJson(signed)).digest('hex');
}

export function signedQueueJob(job: Omit<QueueJob, 'sig'>, secret: string | undefined): QueueJob {
  return secret ? { ...job, sig: queueJobSignature(job, secret) } : job;
}

/**
 * A job from Redis checked before anything is done with it: its name, its
 * size, its shape (the schema), and its signature when this worker has a
 * secret. The reason says what is wrong, for the worker's log and the job's
 * failed reason.
 */
export function checkQueueJob(
  name: unknown,
  data: unknown,
  secret: string | undefined,
): { ok: true; job: QueueJob } | { ok: false; reason: string } {
  if (name !== QUEUE_JOB_NAME)
    return { ok: false, reason: `its name is ${JSON.stringify(String(name).slice(0, 40))}, not "${QUEUE_JOB_NAME}"` };
  const bytes = Buffer.byteLength(JSON.stringify(data) ?? '');
  if (bytes > MAX_QUEUE_JOB_BYTES)
    return { ok: false, reason: `its data is ${bytes} bytes, more than the ${MAX_QUEUE_JOB_BYTES} a trial job has` };
  const version = (data as { v?: unknown } | null)?.v;
  if (typeof version === 'number' && version !== QUEUE_JOB_VERSION)
    return {
      ok: false,
      reason: `it is a version ${String(version).slice(0, 12)} trial job (another tlpipe queued it); this worker takes version ${QUEUE_JOB_VERSION}`,
    };
  if (!validateQueueJob(data))
    return {
      ok: false,
      reason: `it is not a trial job: ${(validateQueueJob.errors ?? []).slice(0, 3).map(describeError).join('; ')}`,
    };
  if (secret) {
    if (data.sig === undefined)
      return {
        ok: false,
        reason: 'it is not signed, and this worker takes only jobs signed with its TLPIPE_QUEUE_SECRET',
      };
    const expected = Buffer.from(queueJobSignature(data, secret), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(data.sig, 'hex')))
      return { ok: false, reason: "its signature does not match this worker's TLPIPE_QUEUE_SECRET" };
  }
  return { ok: true, job: data };
}

function describeError(error: ErrorObject): string {
  const at = error.instancePath ? error.instancePath.slice(1).replace(/\//g, '.') : 'the job';
  if (error.keyword === 'additionalProperties')
    return `${at} has an unknown field ${JSON.stringify(String(error.params['additionalProperty']).slice(0, 40))}`;
  return `${at} ${error.message ?? 'is invalid'}`;
}

/** From the scheduling process to the trial's process. */
export type ParentMessage =
  | { type: 'start'; job: TrialJob; runsRoot: string }
  /** Stop the run after its current batch (it ends interrupted, checkpoints kept); `reason` goes into run.json. */
  | { type: 'stop'; reason: string };

/** From the trial's process: its run's events, then how it ended. */
export type ChildMessage =
  | { type: 'event'; event: RunEvent }
  | {
      type: 'result';
      /** crashed: an internal error, retried like a process that died. */
      status: 'completed' | 'failed' | 'interrupted' | 'crashed';
      run?: string;
      dir?: string;
      /** The problems, formatted (file:line:col: …). */
      diagnostics: string[];
      reason?: string;
    };
