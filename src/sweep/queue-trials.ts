/**
 * Trials on BullMQ: `tlpipe sweep --queue` adds them to one queue and
 * follows the sweep folder, which every worker writes (the runs folder is
 * shared); `tlpipe worker` takes them, each in a child process. Redis only
 * carries the jobs: what happened is in the sweep folder, so a sweep
 * survives Redis losing its data (`sweep --resume` queues again what is
 * unfinished), and the coordinator queues again a job Redis no longer has.
 *
 * What a worker trusts. Anyone who can write to Redis can add a job, so a
 * job is untrusted input: it is checked against a schema (trial-messages.ts)
 * before anything else and carries only names — the pipeline, the sweep id,
 * the sweep's random uid, the trial index — never a path, a pipeline or a
 * value. The worker trusts its own runs folder (it writes there; whoever can
 * write there can already change any run): it finds the sweep folder the job
 * names under it (confined to it, symbolic links followed), checks the
 * sweep's uid, and runs the trial as that folder's sweep.json describes it.
 * So a job can make a worker run only a trial of a sweep that is already in
 * its runs folder, which reads only what that pipeline reads, as
 * `tlpipe run` on it would. With TLPIPE_QUEUE_SECRET set, the coordinator
 * signs each job (HMAC-SHA256 over its canonical JSON) and a worker with a
 * secret refuses a job without the right signature. A job that fails these
 * checks is failed for good (UnrecoverableError), with the reason in the
 * worker's log and the job; a valid job for a sweep this worker cannot see
 * (another --runs) is handed back, delayed for other workers, and says so
 * in the job's log, which the coordinator prints.
 */
import { realpath } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedError, Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { UserError } from '../diagnostics/user-error.js';
import type { RunEvent } from '../engine/events.js';
import { confinedPath, isInside } from '../platform/read-back.js';
import { FINAL_TRIAL_STATES, newSweepUid, SWEEPS_DIR, SweepFolder, type TrialState } from '../store/sweep-folder.js';
import { MAX_TRIAL_ATTEMPTS } from './local-trials.js';
import { runTrial } from './run-trial.js';
import {
  checkQueueJob,
  QUEUE_JOB_NAME,
  QUEUE_JOB_VERSION,
  signedQueueJob,
  trialJobOf,
  type QueueJob,
  type TrialJob,
} from './trial-messages.js';
import { setting } from '../platform/settings.js';

export const QUEUE_NAME = 'tlpipe-trials';

/** How long a job's lock lasts without renewal: a worker killed mid-trial gives its trial up after about this long. */
const lockMs = (): number => setting('TLPIPE_QUEUE_LOCK_S') * 1000;
/** The first connection to Redis: a wrong address fails within this, rather than retrying for ever. */
const connectMs = (): number => setting('TLPIPE_QUEUE_CONNECT_S') * 1000;
/** The longest the coordinator waits without a line saying what it waits for. */
const statusMs = (): number => setting('TLPIPE_QUEUE_STATUS_S') * 1000;
/** A job handed back by a worker that cannot see its sweep is offered again after this long (to other workers first). */
const handBackMs = (): number => setting('TLPIPE_QUEUE_HAND_BACK_S') * 1000;
/** The shared secret jobs are signed with, when set. */
const queueSecret = (): string | undefined => setting('TLPIPE_QUEUE_SECRET');
/** A trial's job is kept in Redis this long after it ends, so a late `sweep --resume` finds it. */
const KEEP_S = 7 * 24 * 3600;
/** A job Redis calls completed while the sweep folder has no record of its trial is queued again this many times, then its trial fails. */
export const MAX_UNRECORDED_COMPLETIONS = 3;
/** One question to Redis that takes longer than this counts as no answer. */
const ANSWER_MS = 10_000;

/** redis://host:port/db, rediss://…, or unix:///path/redis.sock; BullMQ needs `maxRetriesPerRequest: null`. */
export async function connectRedis(address: string): Promise<Redis> {
  let redis: Redis;
  if (address.startsWith('unix://'))
    redis = new Redis({ path: address.slice('unix://'.length), maxRetriesPerRequest: null, lazyConnect: true });
  else if (/^rediss?:\/\//.test(address)) redis = new Redis(address, { maxRetriesPerRequest: null, lazyConnect: true });
  else
    throw new UserError(
      `\`${address}\` is not a Redis address`,
      [],
      'write redis://host:6379/0 (or rediss:// with TLS, unix:///path/redis.sock for a socket)',
    );
  redis.on('error', () => undefined); // reconnects on its own; the waits below say what is going on
  try {
    await answerWithin(redis.connect(), connectMs());
    await answerWithin(redis.ping(), connectMs());
  } catch (error) {
    redis.disconnect();
    throw new UserError(
      `cannot reach Redis at ${address}: ${(error as Error).message}`,
      [],
      'start redis-server there, or check the address (redis://host:port/db)',
    );
  }
  // BullMQ 6 uses commands Redis has from 6.2 on; an older server would fail mid-sweep instead of here.
  const version = /redis_version:(\d+)\.(\d+)/.exec(
    await answerWithin(redis.info('server'), connectMs()).catch(() => ''),
  );
  if (version && (Number(version[1]) < 6 || (Number(version[1]) === 6 && Number(version[2]) < 2))) {
    redis.disconnect();
    throw new UserError(
      `Redis at ${address} is version ${version[1]}.${version[2]}; sweeps on a queue need Redis 6.2 or later`,
      [],
      'upgrade redis-server (Debian bookworm has 7.0)',
    );
  }
  return redis;
}

/** `work`, or a rejection when Redis does not answer within `ms` (ioredis would otherwise wait for ever for a server that is gone). */
function answerWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    work,
    sleep(ms, undefined, { ref: false }).then(() =>
      Promise.reject(new Error(`no answer in ${Math.round(ms / 1000)}s`)),
    ),
  ]);
}

/** Text from Redis as a line says it: anyone who can write there chooses it, so printable characters only (no terminal escapes), and a bounded length. */
const printable = (text: unknown, max: number): string => {
  // Cc: ESC, BEL, newlines; Cf: right-to-left overrides and other invisible format characters.
  const clean = String(text).replace(/[\p{Cc}\p{Cf}]/gu, '?');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
};
/** A job's id as a log line says it. */
const shownId = (job: Job): string => printable(job.id, 80);

const jobIdOf = (folder: SweepFolder, index: number): string =>
  `${folder.record.pipeline}--${folder.record.id}--${index}`;

const planOf = (folder: SweepFolder, index: number): string =>
  folder.record.trials.find((t) => t.index === index)!.fingerprint;

function queueJobOf(folder: SweepFolder, index: number): QueueJob {
  const fingerprint = planOf(folder, index);
  return signedQueueJob(
    {
      v: QUEUE_JOB_VERSION,
      pipeline: folder.record.pipeline,
      sweep: folder.record.id,
      uid: folder.record.uid!,
      index,
      fingerprint,
    },
    queueSecret(),
  );
}

/** Adds a trial's job unless Redis has it waiting, running or delayed; a finished job whose trial is not finished (a resume) is replaced. */
async function enqueue(queue: Queue, folder: SweepFolder, index: number): Promise<'added' | 'kept'> {
  const jobId = jobIdOf(folder, index);
  const existing = await Job.fromId(queue, jobId);
  if (existing) {
    const state = await existing.getState();
    // A job of this sweep's making is kept; one that is not (queued by an older tlpipe, or by someone else under this id) is replaced unless a worker holds it.
    const data = existing.data as { uid?: unknown; fingerprint?: unknown } | null;
    const ours = data?.uid === folder.record.uid && data?.fingerprint === planOf(folder, index);
    if (state === 'active' || (ours && state !== 'completed' && state !== 'failed' && state !== 'unknown'))
      return 'kept';
    await existing.remove();
  }
  await queue.add(QUEUE_JOB_NAME, queueJobOf(folder, index), {
    jobId,
    attempts: MAX_TRIAL_ATTEMPTS,
    backoff: { type: 'fixed', delay: 1000 },
    removeOnComplete: { age: KEEP_S },
    removeOnFail: { age: KEEP_S },
  });
  return 'added';
}

type Log = (level: 'info' | 'warn', message: string) => void;

/** What the coordinator knows of each open trial's job between two looks at Redis. */
interface Watch {
  /** The job's log lines already said (a worker's refusal). */
  logsSeen: Map<number, number>;
  /**
   * Each worker that handed jobs back, and why, as last said: a worker that
   * cannot see the sweep hands back every job it is offered, every few
   * seconds, and the sweep says so once per worker, again only when its reason changes.
   */
  handBacks: Map<string, string>;
  /** Jobs Redis called completed while the sweep folder did not record their trial finished. */
  unrecorded: Map<number, number>;
  /** The job states of the last look, for the status line. */
  states: Map<number, string>;
  workers: number | undefined;
}

/**
 * Puts the trials on the queue and waits until the sweep folder records
 * each as finished. Every few seconds it also asks Redis: a job it no longer
 * has (it restarted without its data) is queued again; a job it failed
 * without a record (its worker died on the last attempt) is recorded failed;
 * a job it completed without a record (a worker of another runs folder) is
 * queued again a few times, then its trial fails; a worker's refusal is
 * said. At least every TLPIPE_QUEUE_STATUS_S it says what it waits for. The
 * signal stops the wait; the trials stay on the queue.
 */
export async function runTrialsOnQueue(
  address: string,
  folder: SweepFolder,
  indices: readonly number[],
  options: { signal?: AbortSignal; onState?: (state: TrialState) => void; onLog?: Log },
): Promise<void> {
  const log: Log = options.onLog ?? ((): void => undefined);
  if (!folder.record.uid) await folder.update({ uid: newSweepUid() }); // a sweep from before jobs named their sweep's uid
  const redis = await connectRedis(address);
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  queue.on('error', () => undefined);
  try {
    let added = 0;
    try {
      for (const index of indices)
        if ((await answerWithin(enqueue(queue, folder, index), ANSWER_MS)) === 'added') added++;
    } catch (error) {
      throw new UserError(
        `cannot queue the trials on Redis at ${address}: ${(error as Error).message}`,
        [],
        `start redis-server there, then: tlpipe sweep --resume ${resumeRef(folder)} --queue ${address}`,
      );
    }
    const runs = path.dirname(path.dirname(path.dirname(folder.dir)));
    log(
      'info',
      `${added} trial(s) queued on ${QUEUE_NAME} at ${address}${indices.length > added ? `, ${indices.length - added} already there` : ''}`,
    );
    log(
      'info',
      `start workers on the same runs folder: tlpipe worker --queue ${address} --runs ${runs}${queueSecret() ? ' (with the same TLPIPE_QUEUE_SECRET)' : ''}`,
    );
    const seen = new Map<number, string>();
    const watch: Watch = {
      logsSeen: new Map(),
      handBacks: new Map(),
      unrecorded: new Map(),
      states: new Map(),
      workers: undefined,
    };
    let lastCheck = 0;
    let lastStatus = Date.now();
    let unreachableSince: number | undefined;
    while (!options.signal?.aborted) {
      const states = await folder.readTrials();
      for (const index of indices) {
        const state = states.get(index);
        if (state && seen.get(index) !== state.updatedAt) {
          seen.set(index, state.updatedAt);
          options.onState?.(state);
        }
      }
      const open = indices.filter((i) => !FINAL_TRIAL_STATES.has(states.get(i)?.status ?? 'queued'));
      if (open.length === 0) return;
      if (Date.now() - lastCheck > 5000) {
        lastCheck = Date.now();
        const answered = (): void => {
          if (unreachableSince !== undefined) log('info', 'Redis answers again');
          unreachableSince = undefined;
        };
        const check = checkJobs(queue, folder, open, states, watch, log);
        try {
          await answerWithin(check, ANSWER_MS);
          answered();
        } catch (error) {
          if (unreachableSince === undefined)
            log(
              'warn',
              `Redis does not answer (${(error as Error).message}); the workers' trials go on, and the sweep waits for it`,
            );
          unreachableSince ??= Date.now();
          // The check goes on after the wait gave up on it (ioredis queues commands until it reconnects):
          // its late answer is Redis answering again, which the trials may finish before the next check.
          check.then(answered, () => undefined);
        }
      }
      if (Date.now() - lastStatus >= statusMs()) {
        lastStatus = Date.now();
        log('info', waitingLine(open, states, watch, unreachableSince, address, runs));
      }
      await sleep(500, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    }
    log(
      'info',
      `the trials stay on the queue and workers go on with them; follow them again with: tlpipe sweep --resume ${resumeRef(folder)} --queue ${address}`,
    );
  } finally {
    await answerWithin(queue.close(), ANSWER_MS).catch(() => undefined);
    redis.disconnect();
  }
}

const resumeRef = (folder: SweepFolder): string => `${folder.record.pipeline}/sweeps/${folder.record.id.slice(0, 4)}`;

/** What the sweep waits for, in one line. */
function waitingLine(
  open: readonly number[],
  states: ReadonlyMap<number, TrialState>,
  watch: Watch,
  unreachableSince: number | undefined,
  address: string,
  runs: string,
): string {
  if (unreachableSince !== undefined)
    return `waiting for Redis at ${address}, which has not answered for ${Math.round((Date.now() - unreachableSince) / 1000)}s (${open.length} trial(s) open)`;
  const running = open.filter((i) => states.get(i)?.status === 'running').length;
  const waiting = open.length - running;
  const handedBack = open.filter((i) => watch.states.get(i) === 'delayed').length;
  const parts = [`${running} running`, `${waiting} waiting for a worker`];
  if (handedBack > 0) parts.push(`${handedBack} handed back by workers that cannot see this sweep`);
  const workers =
    watch.workers === undefined
      ? ''
      : watch.workers === 0
        ? `; no worker is connected: start one with tlpipe worker --queue ${address} --runs ${runs}`
        : `; ${watch.workers} worker(s) connected`;
  return `waiting for ${open.length} trial(s): ${parts.join(', ')}${workers}`;
}

async function checkJobs(
  queue: Queue,
  folder: SweepFolder,
  open: readonly number[],
  states: ReadonlyMap<number, TrialState>,
  watch: Watch,
  log: Log,
): Promise<void> {
  watch.workers = await queue.getWorkersCount().catch(() => undefined);
  for (const index of open) {
    const jobId = jobIdOf(folder, index);
    let found = await Job.fromId(queue, jobId);
    if (!found) {
      await enqueue(queue, folder, index);
      log('warn', `trial ${index}'s job was gone from Redis (restarted without its data?): queued again`);
      continue;
    }
    const jobState = await found.getState();
    // The job as it ended: it may have ended between the read above and its state (BullMQ writes a job's failed
    // reason or return value and its final state in one step, so a read after the state sees them).
    if (jobState === 'failed' || jobState === 'completed') found = (await Job.fromId(queue, jobId)) ?? found;
    const before = watch.states.get(index);
    watch.states.set(index, jobState);
    // The folder again, after Redis: a worker records its trial before its job ends, so what Redis says ended is in the folder by now.
    const recorded = await folder.readTrial(index);
    const finished = FINAL_TRIAL_STATES.has(recorded?.status ?? 'queued');
    const { logs, count } = await queue.getJobLogs(jobId, watch.logsSeen.get(index) ?? 0, -1);
    watch.logsSeen.set(index, count);
    for (const line of logs) sayJobLog(index, line, watch.handBacks, log);
    if (jobState === 'failed' && !finished) {
      await folder.writeTrial({
        index,
        status: 'failed',
        attempts: recorded?.attempts ?? 0,
        ...(recorded?.run ? { run: recorded.run } : {}),
        reason: printable(found.failedReason || 'the queue failed its job', 1000),
        updatedAt: new Date().toISOString(),
      });
    } else if (jobState === 'completed' && !finished) {
      const times = (watch.unrecorded.get(index) ?? 0) + 1;
      watch.unrecorded.set(index, times);
      const by =
        typeof found.returnvalue === 'object' &&
        found.returnvalue !== null &&
        typeof (found.returnvalue as { by?: unknown }).by === 'string'
          ? ` by ${printable((found.returnvalue as { by: string }).by, 80)}`
          : '';
      const why = `Redis calls job ${jobId} completed${by}, but this sweep folder never recorded trial ${index} finishing: likely a worker with another --runs folder (or another tlpipe) took it`;
      if (times < MAX_UNRECORDED_COMPLETIONS) {
        await enqueue(queue, folder, index);
        log('warn', `${why}; queued again (${times} of ${MAX_UNRECORDED_COMPLETIONS - 1})`);
      } else {
        await folder.writeTrial({
          index,
          status: 'failed',
          attempts: recorded?.attempts ?? 0,
          ...(recorded?.run ? { run: recorded.run } : {}),
          reason: `${why}, ${times} times`,
          updatedAt: new Date().toISOString(),
        });
        log('warn', `${why}, ${times} times: trial ${index} failed`);
      }
    } else if (jobState === 'waiting' && before === 'active' && recorded?.status === 'running') {
      log(
        'warn',
        `trial ${index}'s worker (${recorded.by ?? 'unknown'}) stopped renewing its job's lock (killed, or its machine stalled): the job is back on the queue for another worker`,
      );
    }
  }
}

/** A worker's hand-back as its job's log has it (handBackLine): the worker, the job, and why. */
const HAND_BACK = /^(.{1,200}?) handed job (.{1,200}?) back: (.+)$/su;
/** A hand-back as the worker writes it into the job's log, which the coordinator reads back (HAND_BACK). */
const handBackLine = (worker: string, job: Job, reason: string): string =>
  `${worker} handed job ${shownId(job)} back: ${reason}`;
/** Workers whose hand-backs the coordinator remembers; Redis is untrusted, so a flood of invented ones cannot grow it without bound. */
const MAX_HAND_BACK_WORKERS = 1000;

/**
 * Says a line of a trial's job log. A hand-back is said once per worker
 * (which worker, and why), and again only when that worker's reason
 * changes: the worker hands back every job it is offered, each every
 * TLPIPE_QUEUE_HAND_BACK_S, and the waiting line counts the jobs handed back.
 */
export function sayJobLog(index: number, line: string, handBacks: Map<string, string>, log: Log): void {
  const handBack = HAND_BACK.exec(line);
  if (!handBack) {
    log('warn', `trial ${index}: ${printable(line, 400)}`);
    return;
  }
  const worker = printable(handBack[1], 80);
  const reason = printable(handBack[3], 400);
  if (handBacks.get(worker) === reason) return;
  if (!handBacks.has(worker) && handBacks.size >= MAX_HAND_BACK_WORKERS) handBacks.clear();
  const again = handBacks.has(worker);
  handBacks.set(worker, reason);
  log(
    'warn',
    `worker ${worker} hands this sweep's trials back (trial ${index}'s job first${again ? ', for a new reason' : ''}; said once per worker): ${reason}`,
  );
}

/** Where a queue job's sweep is under this worker's runs folder, or why it is not there. */
async function locateSweep(
  runsRoot: string,
  job: QueueJob,
): Promise<{ ok: true; folder: SweepFolder } | { ok: false; reason: string }> {
  const ref = `${job.pipeline}/${SWEEPS_DIR}/${job.sweep}`;
  const dir = confinedPath(runsRoot, path.join(job.pipeline, SWEEPS_DIR, job.sweep), 'the sweep a queue job names');
  const cannotSee = (why: string): { ok: false; reason: string } => ({
    ok: false,
    reason: `this worker's runs folder ${runsRoot} ${why} the sweep ${ref} the job names (uid ${job.uid}): is the worker's --runs the sweep's?`,
  });
  const [realRoot, realDir] = await Promise.all([
    realpath(runsRoot).catch(() => undefined),
    realpath(dir).catch(() => undefined),
  ]);
  if (!realRoot || !realDir) return cannotSee('does not have');
  if (!isInside(realRoot, realDir)) return cannotSee(`has, as a link that leads outside it (to ${realDir}),`);
  let folder: SweepFolder;
  try {
    folder = await SweepFolder.open(dir);
  } catch (error) {
    return cannotSee(`cannot read (${(error as Error).message}),`);
  }
  if (folder.record.uid !== job.uid)
    return cannotSee(`has another sweep (uid ${folder.record.uid ?? 'none'}) at the path of`);
  return { ok: true, folder };
}

/**
 * `tlpipe worker`: takes trials from the queue, `concurrency` at a time,
 * each in a child process (the event loop stays free to renew the job
 * locks). Each job is checked first (see the top of this file). A trial's
 * own failure is final (UnrecoverableError: not retried); a crash is
 * retried, by whichever worker takes it, resuming the run from its
 * checkpoint. A worker that loses a job's lock stops that trial, so two
 * workers never write one run folder. The signal stops the running trials
 * (interrupted, to be resumed by another worker) and closes the worker.
 */
export async function runWorker(
  address: string,
  options: {
    runsRoot: string;
    concurrency: number;
    child: string;
    signal?: AbortSignal;
    onState?: (state: TrialState) => void;
    onEvent?: (index: number, event: RunEvent) => void;
    onLog?: Log;
  },
): Promise<{ processed: number; refused: number }> {
  const log: Log = options.onLog ?? ((): void => undefined);
  const secret = queueSecret();
  const redis = await connectRedis(address);
  const runsRoot = path.resolve(options.runsRoot);
  const me = `${os.hostname()}:${process.pid}`;
  let processed = 0;
  let refused = 0;
  const worker = new Worker<unknown, TrialState>(
    QUEUE_NAME,
    async (job, token, signal) => {
      const checked = checkQueueJob(job.name, job.data, secret);
      if (!checked.ok) {
        refused++;
        const reason = `refused job ${shownId(job)}: ${checked.reason}`;
        log('warn', reason);
        throw new UnrecoverableError(reason);
      }
      const located = await locateSweep(runsRoot, checked.job).catch((error: unknown) => {
        // The schema leaves no path that leaves the runs folder; should one get through, it is refused like any invalid job.
        if (!(error instanceof UserError)) throw error;
        refused++;
        log('warn', `refused job ${shownId(job)}: ${error.message}`);
        throw new UnrecoverableError(`refused job ${shownId(job)}: ${error.message}`);
      });
      if (!located.ok) {
        refused++;
        const reason = handBackLine(me, job, located.reason);
        log('warn', reason);
        await job.log(reason).catch(() => undefined);
        await job.moveToDelayed(Date.now() + handBackMs(), token);
        throw new DelayedError(reason);
      }
      const { folder } = located;
      const trial = folder.record.trials.find((t) => t.index === checked.job.index);
      if (!trial || trial.duplicateOf !== undefined) {
        refused++;
        const reason = `refused job ${shownId(job)}: the sweep ${folder.dir} has no trial ${checked.job.index} to run`;
        log('warn', reason);
        throw new UnrecoverableError(reason);
      }
      if (trial.fingerprint !== checked.job.fingerprint) {
        refused++;
        const reason = `refused job ${shownId(job)}: it names plan ${checked.job.fingerprint.slice(0, 8)} for trial ${trial.index}, but ${folder.dir} says ${trial.fingerprint.slice(0, 8)}`;
        log('warn', reason);
        throw new UnrecoverableError(reason);
      }
      const previous = await folder.readTrial(trial.index);
      if (previous && FINAL_TRIAL_STATES.has(previous.status)) {
        log(
          'info',
          `job ${shownId(job)}: trial ${trial.index} is already ${previous.status} in ${folder.dir}; nothing to run`,
        );
        return previous;
      }
      const backend = folder.record.backend as TrialJob['backend'];
      const trialJob = trialJobOf(folder.record, path.relative(runsRoot, folder.dir), trial, {
        ...(backend ? { backend } : {}),
        ...(folder.record.noCache ? { noCache: true } : {}),
      });
      const outcome = await runTrial(trialJob, runsRoot, {
        child: options.child,
        maxAttempts: MAX_TRIAL_ATTEMPTS,
        ...(signal ? { signal } : {}),
        ...(options.onState ? { onState: options.onState } : {}),
        ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      });
      processed++;
      const { state } = outcome;
      if (state.status === 'failed') throw new UnrecoverableError(state.reason ?? 'the trial failed');
      // Crashed, or stopped here (lock lost, worker stopping): another attempt resumes its run.
      if (state.status === 'queued') throw new Error(state.reason ?? 'the trial did not finish');
      return state;
    },
    {
      connection: redis,
      concurrency: options.concurrency,
      lockDuration: lockMs(),
      stalledInterval: lockMs(),
      maxStalledCount: MAX_TRIAL_ATTEMPTS,
      autorun: false,
    },
  );
  worker.on('error', (error) => log('warn', `queue: ${error.message}`));
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      log('warn', `lost the lock of job ${id}: stopping its trial, which another worker takes`);
      worker.cancelJob(id, 'the job lock was lost');
    }
  });
  const stopped = new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const running = worker.run();
  log('info', `worker ${process.pid} on ${QUEUE_NAME} at ${address}, ${options.concurrency} trial(s) at a time`);
  log('info', `runs in ${runsRoot}${secret ? '; takes only jobs signed with TLPIPE_QUEUE_SECRET' : ''}`);
  await Promise.race([stopped, running]);
  worker.cancelAllJobs('the worker is stopping');
  await worker.close();
  redis.disconnect();
  return { processed, refused };
}
