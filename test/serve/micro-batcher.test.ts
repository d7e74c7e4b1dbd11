import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { MicroBatcher, QueueFull, type BatchingOptions } from '../../src/serve/micro-batcher.js';
import type { ServedAnswer, ServedInput } from '../../src/serve/served-answers.js';

/** Instances named `<request>.<index>`, so a batch and an answer say whose instance they are. */
const instances = (request: string, n: number): ServedInput[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'row', name: `${request}.${i}`, values: [i] }));

/** The answer this file's batch runners give an instance: its own name as the label. */
const answerTo = (input: ServedInput): ServedAnswer => ({ label: input.name, probabilities: {}, top: [] });
const labels = (answers: ServedAnswer[]): string[] =>
  answers.map((a) => ('label' in a ? a.label : `error: ${a.error}`));

/** Lets promise callbacks and due immediates run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** How a promise stands right now, without waiting for it. */
async function state<T>(promise: Promise<T>): Promise<'pending' | 'resolved' | 'rejected'> {
  let seen: 'pending' | 'resolved' | 'rejected' = 'pending';
  promise.then(
    () => (seen = 'resolved'),
    () => (seen = 'rejected'),
  );
  await settle();
  return seen;
}

/**
 * A batch runner that answers when the test says: it records each batch it
 * was given, and how many were in it at once, and each batch waits for
 * `answer()` or `fail()`. This is the batcher's real interface (a function
 * from inputs to answers), driven by hand.
 */
function heldRunner() {
  const batches: { names: string[]; answer: (answers?: ServedAnswer[]) => void; fail: (error: Error) => void }[] = [];
  let running = 0;
  let mostAtOnce = 0;
  const run = (inputs: ServedInput[]): Promise<ServedAnswer[]> =>
    new Promise((resolve, reject) => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      const done = (): void => void running--;
      batches.push({
        names: inputs.map((i) => i.name),
        answer: (answers = inputs.map(answerTo)) => (done(), resolve(answers)),
        fail: (error) => (done(), reject(error)),
      });
    });
  return {
    run,
    batches,
    names: () => batches.map((b) => b.names),
    mostAtOnce: () => mostAtOnce,
  };
}

const LONG = 60_000;
const options = (o: Partial<BatchingOptions>): BatchingOptions => ({
  maxBatchSize: 4,
  maxLatencyMs: LONG,
  maxQueue: 100,
  ...o,
});

describe('MicroBatcher: how batches form', () => {
  it('a batch goes as soon as it is full, without waiting for the latency', async () => {
    const runner = heldRunner();
    const sizes: number[] = [];
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 3 }), (n) => sizes.push(n));
    const requests = ['a', 'b', 'c'].map((r) => batcher.submit(instances(r, 1)));
    assert.deepEqual(runner.names(), [['a.0', 'b.0', 'c.0']]);
    assert.deepEqual(sizes, [3]);
    assert.equal(batcher.depth, 0);
    runner.batches[0]!.answer();
    assert.deepEqual((await Promise.all(requests)).map(labels), [['a.0'], ['b.0'], ['c.0']]);
  });

  it('a lone request goes after maxLatencyMs, not before', async () => {
    const runner = heldRunner();
    // Far above how long a loaded machine stalls this process between submit() and settle() (timers there ran 180 ms late).
    const batcher = new MicroBatcher(runner.run, 1, options({ maxLatencyMs: 300 }));
    const started = performance.now();
    const request = batcher.submit(instances('a', 1));
    await settle();
    assert.deepEqual(runner.names(), [], 'sent before its latency was up');
    assert.equal(batcher.depth, 1);
    while (runner.batches.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // A timer may fire a millisecond early by rounding; never much earlier.
    assert.ok(performance.now() - started >= 298, `sent after ${performance.now() - started} ms`);
    runner.batches[0]!.answer();
    assert.deepEqual(labels(await request), ['a.0']);
  });

  it('after a flush by drained(), a new lone request waits for its latency again', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({}));
    const first = batcher.submit(instances('a', 1));
    const drained = batcher.drained();
    assert.deepEqual(runner.names(), [['a.0']], 'drained() sends what waits at once');
    runner.batches[0]!.answer();
    await drained;
    await first;
    const second = batcher.submit(instances('b', 1));
    await settle();
    assert.deepEqual(runner.names(), [['a.0']], 'the flush outlived drained()');
    assert.equal(batcher.depth, 1);
    // Let it go (the test would otherwise wait a minute for it).
    const again = batcher.drained();
    runner.batches[1]!.answer();
    assert.deepEqual(labels(await second), ['b.0']);
    await again;
  });

  const splits: { name: string; maxBatchSize: number; n: number; batches: number[]; answerOrder: number[] }[] = [
    { name: 'a request of 8 into batches of 3', maxBatchSize: 3, n: 8, batches: [3, 3, 2], answerOrder: [2, 0, 1] },
    {
      name: 'a request of 4 into batches of 1',
      maxBatchSize: 1,
      n: 4,
      batches: [1, 1, 1, 1],
      answerOrder: [3, 1, 2, 0],
    },
    { name: 'a request of exactly one batch', maxBatchSize: 5, n: 5, batches: [5], answerOrder: [0] },
  ];
  for (const c of splits)
    it(`${c.name}: answers come back in the request's order, whatever order the batches finish in`, async () => {
      const runner = heldRunner();
      const batcher = new MicroBatcher(runner.run, 8, options({ maxBatchSize: c.maxBatchSize, maxLatencyMs: 10 }));
      const request = batcher.submit(instances('a', c.n));
      while (runner.batches.length < c.batches.length) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.deepEqual(
        runner.batches.map((b) => b.names.length),
        c.batches,
      );
      for (const i of c.answerOrder) {
        assert.equal(await state(request), 'pending', 'answered before its last batch');
        runner.batches[i]!.answer();
      }
      assert.deepEqual(
        labels(await request),
        instances('a', c.n).map((i) => i.name),
      );
      assert.equal(batcher.depth, 0);
    });

  it('instances of several requests share a batch, and each request gets its own answers', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 6 }));
    const a = batcher.submit(instances('a', 2));
    const b = batcher.submit(instances('b', 3));
    const c = batcher.submit(instances('c', 2));
    assert.deepEqual(runner.names(), [['a.0', 'a.1', 'b.0', 'b.1', 'b.2', 'c.0']]);
    assert.equal(batcher.depth, 1);
    runner.batches[0]!.answer();
    assert.deepEqual(labels(await a), ['a.0', 'a.1']);
    assert.deepEqual(labels(await b), ['b.0', 'b.1', 'b.2']);
    assert.equal(await state(c), 'pending', 'c answered with only half of its instances run');
    assert.equal(batcher.depth, 1);
    const drained = batcher.drained();
    assert.deepEqual(runner.names()[1], ['c.1']);
    runner.batches[1]!.answer();
    assert.deepEqual(labels(await c), ['c.0', 'c.1']);
    await drained;
  });

  it('an answer the runner left out is that instance’s error, not a request that never ends', async () => {
    const batcher = new MicroBatcher(
      async (inputs) => inputs.slice(0, 1).map(answerTo),
      1,
      options({ maxBatchSize: 2 }),
    );
    assert.deepEqual(labels(await batcher.submit(instances('a', 2))), [
      'a.0',
      'error: the worker gave no answer for this instance',
    ]);
  });

  it('a request of no instances is answered at once with no answers', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({}));
    assert.equal(await state(batcher.submit([])), 'resolved');
    assert.deepEqual(await batcher.submit([]), []);
    assert.deepEqual(runner.names(), []);
    assert.equal(batcher.depth, 0);
  });
});

describe('MicroBatcher: workers, queue and depth', () => {
  const workerCases = [1, 2, 3];
  for (const workers of workerCases)
    it(`with ${workers} worker(s), at most ${workers} batch(es) in flight`, async () => {
      const runner = heldRunner();
      const batcher = new MicroBatcher(runner.run, workers, options({ maxBatchSize: 1, maxLatencyMs: 0 }));
      const requests = Array.from({ length: 7 }, (_, i) => batcher.submit(instances(`r${i}`, 1)));
      await settle();
      assert.equal(runner.batches.length, workers);
      assert.equal(batcher.depth, 7 - workers);
      // Answer one batch at a time; each frees one worker for one more batch.
      for (let answered = 0; answered < 7; answered++) {
        runner.batches[answered]!.answer();
        await settle();
        assert.equal(runner.batches.length, Math.min(7, workers + answered + 1));
      }
      assert.deepEqual(
        (await Promise.all(requests)).map(labels),
        requests.map((_, i) => [`r${i}.0`]),
      );
      assert.equal(runner.mostAtOnce(), workers);
    });

  it('QueueFull when a request would take the queue past maxQueue; depth counts instances', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 2, maxQueue: 5 }));
    const busy = batcher.submit(instances('busy', 2)); // in the worker: not waiting, not counted
    assert.equal(batcher.depth, 0);
    const steps: { name: string; n: number; accepted: boolean; depth: number }[] = [
      { name: '3 instances into an empty queue', n: 3, accepted: true, depth: 3 },
      { name: '3 more would make 6 > 5', n: 3, accepted: false, depth: 3 },
      { name: '2 more make exactly 5', n: 2, accepted: true, depth: 5 },
      { name: 'one more would make 6', n: 1, accepted: false, depth: 5 },
    ];
    const accepted: Promise<ServedAnswer[]>[] = [];
    for (const step of steps) {
      const request = batcher.submit(instances(step.name, step.n));
      if (step.accepted) accepted.push(request);
      else
        await assert.rejects(request, (error: unknown) => {
          assert.ok(error instanceof QueueFull, step.name);
          assert.equal(error.depth, step.depth, step.name);
          return true;
        });
      assert.equal(batcher.depth, step.depth, step.name);
    }
    const drained = batcher.drained();
    for (let i = 0; (await state(drained)) === 'pending'; i++) runner.batches[i]!.answer();
    await busy;
    await Promise.all(accepted);
    assert.deepEqual(
      runner.batches.map((b) => b.names.length),
      [2, 2, 2, 1],
    );
  });

  it('a request bigger than maxQueue is refused even when the queue is empty', async () => {
    const batcher = new MicroBatcher(
      async (inputs) => inputs.map(answerTo),
      1,
      options({ maxQueue: 3, maxLatencyMs: 0 }),
    );
    await assert.rejects(batcher.submit(instances('a', 4)), QueueFull);
    assert.equal(batcher.depth, 0);
    assert.deepEqual(labels(await batcher.submit(instances('b', 3))), ['b.0', 'b.1', 'b.2']);
  });
});

describe('MicroBatcher: withdrawn requests (a timeout)', () => {
  it('an AbortSignal.timeout withdraws the waiting instances and rejects with its reason; depth drops', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 1 }));
    const busy = batcher.submit(instances('busy', 1));
    // AbortSignal.timeout's timer does not hold the process open (a server's socket does); this one does.
    const alive = setTimeout(() => {}, LONG);
    const late = batcher.submit(instances('late', 3), AbortSignal.timeout(20));
    assert.equal(batcher.depth, 3);
    await assert.rejects(late, (error: Error) => error.name === 'TimeoutError');
    clearTimeout(alive);
    assert.equal(batcher.depth, 0);
    runner.batches[0]!.answer();
    await busy;
    await batcher.drained();
    assert.deepEqual(runner.names(), [['busy.0']], 'a withdrawn instance was run');
  });

  it('a signal already aborted is refused at once and nothing is queued', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({}));
    const reason = new Error('gone before it came');
    await assert.rejects(batcher.submit(instances('a', 2), AbortSignal.abort(reason)), (error) => error === reason);
    assert.equal(batcher.depth, 0);
    await batcher.drained();
    assert.deepEqual(runner.names(), []);
  });

  it('a withdrawn request at the head of the queue: the next batch starts with the request behind it', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 2, maxLatencyMs: 0 }));
    const busy = batcher.submit(instances('busy', 2));
    const head = new AbortController();
    const a = batcher.submit(instances('a', 2), head.signal);
    const b = batcher.submit(instances('b', 1));
    assert.equal(batcher.depth, 3);
    const reason = new Error('a timed out');
    head.abort(reason);
    await assert.rejects(a, (error) => error === reason);
    assert.equal(batcher.depth, 1);
    runner.batches[0]!.answer();
    await busy;
    await settle();
    assert.deepEqual(runner.names(), [['busy.0', 'busy.1'], ['b.0']]);
    runner.batches[1]!.answer();
    assert.deepEqual(labels(await b), ['b.0']);
    assert.equal(batcher.depth, 0);
    await batcher.drained();
  });

  it('a withdrawn request in the middle of the queue is skipped, the ones around it answered', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 4, maxLatencyMs: 0 }));
    const busy = batcher.submit(instances('busy', 4));
    const a = batcher.submit(instances('a', 1));
    const middle = new AbortController();
    const m = batcher.submit(instances('m', 2), middle.signal);
    const c = batcher.submit(instances('c', 1));
    middle.abort(new Error('m timed out'));
    await assert.rejects(m, /m timed out/);
    assert.equal(batcher.depth, 2);
    runner.batches[0]!.answer();
    await settle();
    assert.deepEqual(runner.names()[1], ['a.0', 'c.0']);
    runner.batches[1]!.answer();
    assert.deepEqual([labels(await a), labels(await c)], [['a.0'], ['c.0']]);
    await busy;
    await batcher.drained();
  });

  it('a request withdrawn after part of it went: the rest never goes, and the part in flight answers nobody', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 2 }));
    const controller = new AbortController();
    const a = batcher.submit(instances('a', 5), controller.signal);
    assert.deepEqual(runner.names(), [['a.0', 'a.1']]);
    assert.equal(batcher.depth, 3);
    controller.abort(new Error('a timed out'));
    await assert.rejects(a, /a timed out/);
    assert.equal(batcher.depth, 0);
    const b = batcher.submit(instances('b', 1));
    runner.batches[0]!.answer();
    await settle();
    // The worker's next batch is b's alone: none of a's instances are left to go.
    assert.deepEqual(runner.names().slice(1), []);
    const drained = batcher.drained();
    await settle();
    assert.deepEqual(runner.names()[1], ['b.0']);
    runner.batches[1]!.answer();
    assert.deepEqual(labels(await b), ['b.0']);
    await drained;
    assert.equal(batcher.depth, 0);
  });

  it('an abort after the answers came changes nothing: depth stays 0, the answers stand', async () => {
    const batcher = new MicroBatcher(async (inputs) => inputs.map(answerTo), 1, options({ maxLatencyMs: 0 }));
    const controller = new AbortController();
    const answers = await batcher.submit(instances('a', 3), controller.signal);
    controller.abort(new Error('too late'));
    await settle();
    assert.deepEqual(labels(answers), ['a.0', 'a.1', 'a.2']);
    assert.equal(batcher.depth, 0);
    assert.deepEqual(labels(await batcher.submit(instances('b', 1))), ['b.0']);
  });

  it('a settled request lets go of its signal: nothing listens to it once answered or failed', async () => {
    // AbortSignal.timeout keeps its listeners until it fires: a listener left behind would hold the request's bytes that long.
    const answered = new AbortController();
    await new MicroBatcher(async (inputs) => inputs.map(answerTo), 1, options({ maxLatencyMs: 0 })).submit(
      instances('a', 2),
      answered.signal,
    );
    assert.equal(getEventListeners(answered.signal, 'abort').length, 0);
    const failed = new AbortController();
    await assert.rejects(
      new MicroBatcher(() => Promise.reject(new Error('no')), 1, options({ maxLatencyMs: 0 })).submit(
        instances('b', 2),
        failed.signal,
      ),
      /no/,
    );
    assert.equal(getEventListeners(failed.signal, 'abort').length, 0);
  });

  it('a request whose instances are all in flight when it is withdrawn is rejected, and its answers go nowhere', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 2 }));
    const controller = new AbortController();
    const a = batcher.submit(instances('a', 2), controller.signal);
    assert.equal(batcher.depth, 0);
    controller.abort(new Error('a timed out'));
    await assert.rejects(a, /a timed out/);
    assert.equal(batcher.depth, 0);
    const drained = batcher.drained();
    assert.equal(await state(drained), 'pending', 'drained while a batch is in flight');
    runner.batches[0]!.answer();
    await drained;
    assert.equal(batcher.depth, 0);
  });
});

describe('MicroBatcher: a batch runner that fails', () => {
  it('fails every request in the batch, withdraws their waiting instances, and the batcher stays usable', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 4 }));
    const a = batcher.submit(instances('a', 1));
    const b = batcher.submit(instances('b', 5)); // 3 in the failing batch, 2 waiting
    const c = batcher.submit(instances('c', 1));
    assert.deepEqual(runner.names(), [['a.0', 'b.0', 'b.1', 'b.2']]);
    assert.equal(batcher.depth, 3);
    const crash = new Error('the worker died');
    runner.batches[0]!.fail(crash);
    await assert.rejects(a, (error) => error === crash);
    await assert.rejects(b, (error) => error === crash);
    assert.equal(batcher.depth, 1, "b's waiting instances were not withdrawn");
    const d = batcher.submit(instances('d', 1));
    const drained = batcher.drained();
    await settle();
    assert.deepEqual(runner.names()[1], ['c.0', 'd.0']);
    runner.batches[1]!.answer();
    assert.deepEqual([labels(await c), labels(await d)], [['c.0'], ['d.0']]);
    await drained;
    assert.equal(batcher.depth, 0);
  });

  it('a request split over a batch that fails and one that succeeds is rejected once, not answered', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 2, options({ maxBatchSize: 2 }));
    const a = batcher.submit(instances('a', 4));
    assert.deepEqual(runner.names(), [
      ['a.0', 'a.1'],
      ['a.2', 'a.3'],
    ]);
    runner.batches[1]!.fail(new Error('out of memory'));
    await assert.rejects(a, /out of memory/);
    runner.batches[0]!.answer();
    await batcher.drained();
    assert.equal(batcher.depth, 0);
    const b = batcher.submit(instances('b', 2));
    runner.batches[2]!.answer();
    assert.deepEqual(labels(await b), ['b.0', 'b.1']);
  });

  it('a request withdrawn before its batch fails keeps the reason it was withdrawn for', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 2 }));
    const controller = new AbortController();
    const a = batcher.submit(instances('a', 2), controller.signal);
    controller.abort(new Error('a timed out'));
    runner.batches[0]!.fail(new Error('the worker died'));
    await assert.rejects(a, /a timed out/);
    await batcher.drained();
    assert.equal(batcher.depth, 0);
  });
});

describe('MicroBatcher: drained()', () => {
  it('resolves at once when nothing waits and nothing is in flight', async () => {
    const batcher = new MicroBatcher(async (inputs) => inputs.map(answerTo), 1, options({}));
    assert.equal(await state(batcher.drained()), 'resolved');
  });

  it('resolves only once the waiting instances have gone and every batch in flight has answered', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 2 }));
    const requests = [batcher.submit(instances('a', 2)), batcher.submit(instances('b', 3))];
    assert.equal(batcher.depth, 3);
    const drained = batcher.drained();
    const steps = [
      { name: 'a in flight, b waiting', names: [['a.0', 'a.1']] },
      {
        name: "b's first batch in flight",
        names: [
          ['a.0', 'a.1'],
          ['b.0', 'b.1'],
        ],
      },
      {
        name: "b's last instance in flight, though it is less than a batch",
        names: [['a.0', 'a.1'], ['b.0', 'b.1'], ['b.2']],
      },
    ];
    for (const [i, step] of steps.entries()) {
      assert.deepEqual(runner.names(), step.names, step.name);
      assert.equal(await state(drained), 'pending', step.name);
      runner.batches[i]!.answer();
      await settle();
    }
    await drained;
    assert.deepEqual((await Promise.all(requests)).map(labels), [
      ['a.0', 'a.1'],
      ['b.0', 'b.1', 'b.2'],
    ]);
  });

  it('resolves when the last waiting request is withdrawn rather than answered, once the worker is done', async () => {
    const runner = heldRunner();
    const batcher = new MicroBatcher(runner.run, 1, options({ maxBatchSize: 1 }));
    const busy = batcher.submit(instances('busy', 1));
    const controller = new AbortController();
    const a = batcher.submit(instances('a', 1), controller.signal);
    const drained = batcher.drained();
    controller.abort(new Error('a timed out'));
    await assert.rejects(a, /a timed out/);
    assert.equal(batcher.depth, 0);
    assert.equal(await state(drained), 'pending', 'drained while busy is in flight');
    runner.batches[0]!.answer();
    await drained;
    await busy;
    assert.deepEqual(runner.names(), [['busy.0']]);
  });
});

describe('MicroBatcher: many interleavings of requests, withdrawals, answers and failures', () => {
  /** A small deterministic generator, so a failing seed fails again. */
  const generator = (seed: number) => {
    let x = seed;
    return (n: number): number => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return Math.floor((x / 2 ** 31) * n);
    };
  };
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: depth is exactly what waits, no instance goes twice or after its request ended, every request ends once`, async () => {
      const random = generator(seed);
      const runner = heldRunner();
      const workers = 1 + random(3);
      const batcher = new MicroBatcher(
        runner.run,
        workers,
        options({ maxBatchSize: 1 + random(4), maxLatencyMs: random(2) === 0 ? 0 : LONG, maxQueue: 12 }),
      );
      const requests: {
        name: string;
        n: number;
        controller: AbortController;
        ended?: 'answered' | 'rejected';
        answers?: ServedAnswer[];
        endings: number;
      }[] = [];
      const done = new Set<number>();
      const endedAtBatch = new Map<string, number>();
      const check = async (step: string): Promise<void> => {
        await settle();
        const sent = new Set(runner.names().flat());
        assert.equal(sent.size, runner.names().flat().length, `${step}: an instance went twice`);
        const waiting = requests
          .filter((r) => r.ended === undefined)
          .reduce((sum, r) => sum + instances(r.name, r.n).filter((i) => !sent.has(i.name)).length, 0);
        assert.equal(batcher.depth, waiting, `${step}: depth`);
        assert.ok(runner.batches.length - done.size <= workers, `${step}: more batches in flight than workers`);
        for (const r of requests)
          if (r.ended !== undefined && !endedAtBatch.has(r.name)) endedAtBatch.set(r.name, runner.batches.length);
        runner.batches.forEach((b, i) => {
          for (const name of b.names) {
            const ended = endedAtBatch.get(name.split('.')[0]!);
            assert.ok(ended === undefined || i < ended, `${step}: ${name} went after its request ended`);
          }
        });
      };
      for (let step = 0; step < 120; step++) {
        const action = random(10);
        const open = runner.batches.map((_, i) => i).filter((i) => !done.has(i));
        const pending = requests.filter((r) => r.ended === undefined);
        if (action < 4) {
          const r: (typeof requests)[number] = {
            name: `r${requests.length}`,
            n: 1 + random(5),
            controller: new AbortController(),
            endings: 0,
          };
          const full = batcher.depth + r.n > 12;
          const promise = batcher.submit(instances(r.name, r.n), r.controller.signal);
          if (full) {
            await assert.rejects(promise, QueueFull);
            continue;
          }
          requests.push(r);
          promise.then(
            (answers) => ((r.ended = 'answered'), (r.answers = answers), r.endings++),
            () => ((r.ended = 'rejected'), r.endings++),
          );
        } else if (action < 6 && pending.length > 0) {
          pending[random(pending.length)]!.controller.abort(new Error('timed out'));
        } else if (action < 9 && open.length > 0) {
          const i = open[random(open.length)]!;
          done.add(i);
          runner.batches[i]!.answer();
        } else if (open.length > 0) {
          const i = open[random(open.length)]!;
          done.add(i);
          runner.batches[i]!.fail(new Error('the worker died'));
        }
        await check(`step ${step}`);
      }
      // The end: whatever waits is flushed, every batch answered.
      const drained = batcher.drained();
      while ((await state(drained)) === 'pending') {
        for (const [i, b] of runner.batches.entries())
          if (!done.has(i)) {
            done.add(i);
            b.answer();
          }
        await settle();
      }
      await check('drained');
      assert.equal(batcher.depth, 0);
      for (const r of requests) {
        assert.equal(r.endings, 1, `${r.name} ended ${r.endings} times`);
        if (r.ended === 'answered')
          assert.deepEqual(
            labels(r.answers!),
            instances(r.name, r.n).map((i) => i.name),
          );
      }
      assert.ok(
        requests.some((r) => r.ended === 'answered'),
        'no request was answered: the seed tests nothing',
      );
    });
  }
});
