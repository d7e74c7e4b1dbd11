import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { connectRedis } from '../../src/sweep/queue-trials.js';

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
