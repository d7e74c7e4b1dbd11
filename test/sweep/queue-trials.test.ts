import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { connectRedis, sayJobLog } from '../../src/sweep/queue-trials.js';

describe('connectRedis: an address that is not a Redis to talk to is a user error, said at once', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tlpipe-queue-'));
  const connectS = process.env['TLPIPE_QUEUE_CONNECT_S'];
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    if (connectS === undefined) delete process.env['TLPIPE_QUEUE_CONNECT_S'];
    else process.env['TLPIPE_QUEUE_CONNECT_S'] = connectS;
  });
  const cases: { name: string; address: string; message: RegExp; hint: RegExp }[] = [
    {
      name: 'an http address',
      address: 'http://localhost:1',
      message: /^`http:\/\/localhost:1` is not a Redis address$/,
      hint: /^write redis:\/\/host:6379\/0/,
    },
    {
      name: 'a bare host',
      address: 'localhost:6379',
      message: /is not a Redis address$/,
      hint: /unix:\/\/\/path\/redis\.sock/,
    },
    {
      name: 'a socket nothing listens on',
      address: `unix://${path.join(dir, 'none.sock')}`,
      message: /^cannot reach Redis at unix:\/\/.*none\.sock: /,
      hint: /^start redis-server there/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const previous = process.env['TLPIPE_QUEUE_CONNECT_S'];
      process.env['TLPIPE_QUEUE_CONNECT_S'] = '2';
      const started = Date.now();
      const error = await connectRedis(c.address)
        .then(
          () => undefined,
          (e: unknown) => e,
        )
        .finally(() => {
          // Not left for the file's later cases.
          if (previous === undefined) delete process.env['TLPIPE_QUEUE_CONNECT_S'];
          else process.env['TLPIPE_QUEUE_CONNECT_S'] = previous;
        });
      assert.ok(error instanceof UserError, String(error));
      assert.match(error.message, c.message);
      assert.match(error.hint ?? '', c.hint);
      // Bounded by the connect wait (2 s here), with room for a loaded machine.
      assert.ok(Date.now() - started < 60_000, 'did not hang');
    });
  }
});

describe("what the sweep says of its jobs' logs: a worker's hand-back once per worker, again only when its reason changes", () => {
  const back = (worker: string, index: number, why = 'no such sweep here'): [number, string] => [
    index,
    `${worker} handed job tiny--0001-0123abcd--${index} back: ${why}`,
  ];
  const said = (worker: string, index: number, why = 'no such sweep here', again = false): string =>
    `worker ${worker} hands this sweep's trials back (trial ${index}'s job first${again ? ', for a new reason' : ''}; said once per worker): ${why}`;
  const cases: { name: string; lines: [number, string][]; printed: string[] }[] = [
    {
      name: 'one worker handing back every job, again and again: said once',
      lines: [back('a:1', 0), back('a:1', 1), back('a:1', 0), back('a:1', 1), back('a:1', 0)],
      printed: [said('a:1', 0)],
    },
    {
      name: 'two workers: once each',
      lines: [back('a:1', 0), back('b:2', 1), back('a:1', 1), back('b:2', 0)],
      printed: [said('a:1', 0), said('b:2', 1)],
    },
    {
      name: "a worker's reason changes: said again, then not",
      lines: [
        back('a:1', 0),
        back('a:1', 1, 'another sweep at that path'),
        back('a:1', 0, 'another sweep at that path'),
      ],
      printed: [said('a:1', 0), said('a:1', 1, 'another sweep at that path', true)],
    },
    {
      name: 'a line that is not a hand-back: said with its trial, each time',
      lines: [
        [0, 'something else'],
        [0, 'something else'],
      ],
      printed: ['trial 0: something else', 'trial 0: something else'],
    },
    {
      name: 'terminal escapes from Redis in the worker and the reason: made harmless',
      lines: [back('a\u001b]0;x\u0007:1', 0, 'why\u001b[2J')],
      printed: [said('a?]0;x?:1', 0, 'why?[2J')],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const printed: string[] = [];
      const handBacks = new Map<string, string>();
      for (const [index, line] of c.lines)
        sayJobLog(index, line, handBacks, (_level, message) => printed.push(message));
      assert.deepEqual(printed, c.printed);
    });
  }
});
