import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, constants as zlibConstants, crc32, deflateSync, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadModel, serve, type ServeEvent, type Server } from '../../src/api/index.js';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import {
  hasStackTrace,
  IDX_TRAIN_DATASET,
  tinyPipeline,
  tlpipeBounded,
  workspace,
  write,
  writeMnistSubsetIdx,
} from './cli-harness.js';

/**
 * `tlpipe serve` against the requests the issue promises will be tried:
 * huge and truncated bodies, decompression bombs, JSON bombs, slow clients,
 * thousands of connections, paths and model names that try to leave. Each
 * case is refused with a status code and a message that says what is wrong,
 * and after each one the same server still answers /healthz and a real
 * predict exactly as before: it did not crash, wedge or change.
 */

const BODY_LIMIT = 2 ** 20;
const MAX_INSTANCES = 8;
const RECEIVE_TIMEOUT_MS = 1500;
const MAX_CONNECTIONS = 200;
/** The bound on anything a case waits for: generous, two suites share the cores. */
const WAIT_MS = 20_000;

interface Answer {
  status: number;
  body: any;
  text: string;
}

interface RawAnswer {
  /** The status line's code; undefined when the server closed without answering. */
  status?: number;
  body: string;
  /** Body bytes the client managed to send before the answer (or the close). */
  sent: number;
  ms: number;
}

/**
 * One request over a raw TCP connection: `head` first, then `body` chunks
 * as the socket drains (every `intervalMs` when given), until they run out,
 * the server answers, or it closes. `close` says how the client leaves when
 * its chunks run out: half-close (`end`), vanish (`destroy`) or wait.
 */
function rawRequest(
  port: number,
  head: string,
  options: { chunks?: Iterable<Buffer>; intervalMs?: number; close?: 'end' | 'destroy' | 'wait' } = {},
): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks = (options.chunks ?? [])[Symbol.iterator]();
    let received = '';
    let sent = 0;
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    // A ref'd timer: the wait itself keeps the process alive, and a server that never answers fails the case.
    const bound = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${WAIT_MS} ms (sent ${sent} body bytes)`));
    }, WAIT_MS);
    const finish = (): void => {
      clearTimeout(bound);
      clearTimeout(timer);
      socket.destroy();
      const status = /^HTTP\/1\.[01] (\d{3}) /.exec(received);
      resolve({
        ...(status ? { status: Number(status[1]) } : {}),
        body: received.slice(received.indexOf('\r\n\r\n') + 4),
        sent,
        ms: performance.now() - started,
      });
    };
    const leave = (): void => {
      if (options.close === 'end') socket.end();
      else if (options.close === 'destroy') finish();
    };
    const pump = (): void => {
      while (!answered && !socket.destroyed) {
        const next = chunks.next();
        if (next.done) return leave();
        sent += next.value.length;
        if (options.intervalMs !== undefined) {
          socket.write(next.value);
          timer = setTimeout(pump, options.intervalMs);
          return;
        }
        if (!socket.write(next.value)) return void socket.once('drain', pump);
      }
    };
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
    socket.on('data', (data) => {
      received += data.toString('latin1');
      answered = true;
    });
    // A server that answers and closes while the client still writes resets the connection: the answer read so far stands.
    socket.on('error', () => finish());
    socket.on('close', finish);
  });
}

/** A request head for the predict route. */
const predictHead = (headers: Record<string, string | number>): string =>
  `POST /v1/models/digits:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

/** `count` chunks of `size` bytes of JSON-ish text (never ending a document). */
function* filler(count: number, size = 64 * 1024): Generator<Buffer> {
  const chunk = Buffer.alloc(size, 'A');
  for (let i = 0; i < count; i++) yield chunk;
}

/** Real MNIST test digits as PNG files, with their labels. */
async function digitPngs(count: number): Promise<{ label: number; png: Buffer }[]> {
  const files = mnistFiles();
  const images = parseIdx(readFileSync(files.test.images));
  const labels = parseIdx(readFileSync(files.test.labels));
  const out: { label: number; png: Buffer }[] = [];
  for (let i = 0; out.length < count; i++) {
    if (labels.data[i]! > 2) continue;
    const pixels = Buffer.from(images.data.subarray(i * 784, (i + 1) * 784));
    out.push({
      label: labels.data[i]!,
      png: await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toBuffer(),
    });
  }
  return out;
}

/** A PNG whose header claims `width`×`height` pixels, with one tiny IDAT: decoding it would mean gigabytes. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Established TCP connections whose local end is `port` on 127.0.0.1: the server's side of them, as the kernel counts. */
function serverSideConnections(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((line) => {
      const [, from, , state] = line.trim().split(/\s+/);
      return from === local && state === '01';
    }).length;
}

describe('tlpipe serve under hostile requests: a status code and a clear message, and the server keeps answering', () => {
  const dir = workspace('serve-hostile');
  const allowed = path.join(dir, 'allowed');
  const events: ServeEvent[] = [];
  let withFiles: Server;
  let withoutFiles: Server;
  let digit: { label: number; png: Buffer };
  let expected: { label: string; probabilities: Record<string, number> };

  before(async () => {
    writeMnistSubsetIdx(dir, 4, 3);
    write(dir, 'p.yaml', tinyPipeline('digits', IDX_TRAIN_DATASET));
    const trained = await tlpipeBounded(['run', 'p.yaml'], dir, { timeoutMs: 300_000 });
    assert.equal(trained.code, 0, trained.stderr);
    const runDir = path.join(
      dir,
      'runs',
      'digits',
      readdirSync(path.join(dir, 'runs', 'digits')).find((n) => /^\d{4}-/.test(n))!,
    );

    digit = (await digitPngs(1))[0]!;
    mkdirSync(path.join(allowed, 'sub'), { recursive: true });
    writeFileSync(path.join(allowed, 'digit.png'), digit.png);
    writeFileSync(path.join(allowed, '..digit.png'), digit.png);
    writeFileSync(path.join(dir, 'outside.png'), digit.png);
    symlinkSync(path.join(dir, 'outside.png'), path.join(allowed, 'sub', 'link-out.png'));
    symlinkSync(path.join(allowed, 'digit.png'), path.join(allowed, 'sub', 'link-in.png'));
    execFileSync('mkfifo', [path.join(allowed, 'pipe.png')]);

    // What predict answers for the digit, in this process: every served answer below must equal it.
    const model = await loadModel(runDir, { backend: 'wasm' });
    assert.ok(model.ok, JSON.stringify(model));
    const { predictions } = await model.value.classify([{ name: 'digit', bytes: digit.png }]);
    expected = {
      label: predictions[0]!.top[0]!.label,
      probabilities: Object.fromEntries(predictions[0]!.top.map((t) => [t.label, t.probability])),
    };
    model.value.dispose();

    const common = {
      port: 0,
      name: 'digits',
      workers: 1,
      backend: 'wasm' as const,
      maxBodyBytes: BODY_LIMIT,
      maxInstances: MAX_INSTANCES,
      receiveTimeoutMs: RECEIVE_TIMEOUT_MS,
      maxConnections: MAX_CONNECTIONS,
      onEvent: (event: ServeEvent | { type: string }) => {
        if (event.type === 'request' || event.type === 'internal-error') events.push(event as ServeEvent);
      },
    };
    const a = await serve(runDir, { ...common, allowFiles: allowed });
    assert.ok(a.ok, JSON.stringify(a));
    withFiles = a.value;
    const b = await serve(runDir, common);
    assert.ok(b.ok, JSON.stringify(b));
    withoutFiles = b.value;
  });

  after(async () => {
    await Promise.all([withFiles?.close(), withoutFiles?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A request through fetch, its body as JSON when it is JSON; no answer may carry a stack trace. */
  const request = async (
    server: Server,
    route: string,
    init: RequestInit & { json?: unknown } = {},
  ): Promise<Answer> => {
    const { json, ...rest } = init;
    const response = await fetch(`${server.url}${route}`, {
      method: 'POST',
      ...(json !== undefined ? { body: JSON.stringify(json), headers: { 'content-type': 'application/json' } } : {}),
      ...rest,
      signal: AbortSignal.timeout(WAIT_MS),
    });
    const text = await response.text();
    assert.equal(hasStackTrace(text), false, text);
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  };
  const predict = (json: unknown, server = withFiles): Promise<Answer> =>
    request(server, '/v1/models/digits:predict', { json });
  const b64 = (bytes: Buffer): { b64: string } => ({ b64: bytes.toString('base64') });

  /** The served answer for the digit is predict's, to the last digit that matters. */
  const assertAnswersDigit = (prediction: any): void => {
    assert.equal(prediction.label, expected.label);
    for (const [label, p] of Object.entries(expected.probabilities))
      assert.ok(
        Math.abs(prediction.probabilities[label] - p) < 1e-6,
        `${label}: ${prediction.probabilities[label]} ≠ ${p}`,
      );
  };

  /** After a case: both servers live, and a real predict answered exactly as before; nothing failed inside. */
  const assertStillServing = async (eventsBefore: number): Promise<void> => {
    for (const server of [withFiles, withoutFiles]) {
      const health = await request(server, '/healthz', { method: 'GET' });
      assert.deepEqual([health.status, health.body], [200, { status: 'live' }]);
      const answer = await predict({ instances: [b64(digit.png)] }, server);
      assert.equal(answer.status, 200, answer.text);
      assertAnswersDigit(answer.body.predictions[0]);
    }
    assert.deepEqual(
      events.slice(eventsBefore).filter((e) => e.type === 'internal-error' || e.status >= 500),
      [],
      'no request failed inside the server',
    );
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype is untouched');
  };

  const cases: { name: string; run: () => Promise<void> }[] = [
    // Bodies: huge, unannounced, truncated.
    {
      name: 'a Content-Length of 200 MiB: 413 at once, before a byte of the body is sent',
      run: async () => {
        const answer = await rawRequest(
          withFiles.port,
          predictHead({ 'content-type': 'application/json', 'content-length': 200 * 2 ** 20 }),
          { close: 'wait' },
        );
        assert.equal(answer.status, 413, answer.body);
        assert.match(answer.body, /too large \(at most 1048576 bytes/);
        assert.equal(answer.sent, 0);
      },
    },
    {
      name: 'a chunked body with no Content-Length, sent on and on: 413 once past the limit, the rest never read',
      run: async () => {
        const offered = 256; // 16 MiB in 64 KiB chunks
        const answer = await rawRequest(
          withFiles.port,
          predictHead({ 'content-type': 'application/json', 'transfer-encoding': 'chunked' }),
          {
            chunks: (function* () {
              for (const chunk of filler(offered))
                yield Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
            })(),
            close: 'wait',
          },
        );
        assert.equal(answer.status, 413, answer.body);
        assert.match(answer.body, /too large \(at most 1048576 bytes/);
        assert.ok(answer.sent < offered * 64 * 1024, `the client got to send all ${answer.sent} bytes`);
      },
    },
    {
      name: 'a Content-Length of 5000 with 26 bytes sent, then the client vanishes: nothing breaks',
      run: async () => {
        const answer = await rawRequest(
          withFiles.port,
          predictHead({ 'content-type': 'application/json', 'content-length': 5000 }),
          { chunks: [Buffer.from('{"instances":[{"b64":"iVBO')], close: 'destroy' },
        );
        assert.equal(answer.status, undefined);
      },
    },
    {
      name: 'a Content-Length of 5000 with 26 bytes sent, then the client half-closes: 400 saying the request ended early',
      run: async () => {
        const answer = await rawRequest(
          withFiles.port,
          predictHead({ 'content-type': 'application/json', 'content-length': 5000 }),
          { chunks: [Buffer.from('{"instances":[{"b64":"iVBO')], close: 'end' },
        );
        assert.equal(answer.status, 400, answer.body);
        assert.deepEqual(JSON.parse(answer.body), { error: 'the connection ended before the whole request arrived' });
      },
    },
    {
      name: 'a PNG cut after its header, and one cut in half, beside a whole one: 400 naming instances 1 and 2, instance 0 answered',
      run: async () => {
        const answer = await predict({
          instances: [
            b64(digit.png),
            b64(digit.png.subarray(0, 40)),
            b64(digit.png.subarray(0, digit.png.length >> 1)),
          ],
        });
        assert.equal(answer.status, 400, answer.text);
        assert.match(
          answer.body.error,
          /^2 of 3 instances could not be answered: instance 1: the image cannot be used: .*; instance 2: the image cannot be used: /,
        );
        assertAnswersDigit(answer.body.predictions[0]);
        assert.match(answer.body.predictions[1].error, /^the image cannot be used: /);
        assert.match(answer.body.predictions[2].error, /^the image cannot be used: /);
      },
    },

    // Decompression bombs: compressed bodies are never inflated; images that decode huge are refused by their header.
    ...(['gzip', 'deflate', 'br'] as const).map((encoding) => ({
      name: `a ${encoding} body (50 MiB of zeros in ~50 KiB): 415, never inflated`,
      run: async () => {
        const zeros = Buffer.alloc(50 * 2 ** 20);
        const bomb =
          encoding === 'gzip'
            ? gzipSync(zeros)
            : encoding === 'deflate'
              ? deflateSync(zeros)
              : brotliCompressSync(zeros, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
        assert.ok(bomb.length < BODY_LIMIT);
        const answer = await request(withFiles, '/v1/models/digits:predict', {
          body: bomb,
          headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        });
        assert.equal(answer.status, 415, answer.text);
        assert.equal(
          answer.body.error,
          `a body with Content-Encoding "${encoding}" is not taken; send it uncompressed`,
        );
      },
    })),
    {
      name: 'a gzip body on the Open Inference route: 415 too',
      run: async () => {
        const answer = await request(withFiles, '/v2/models/digits/infer', {
          body: gzipSync(
            JSON.stringify({
              inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [digit.png.toString('base64')] }],
            }),
          ),
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        });
        assert.equal(answer.status, 415, answer.text);
      },
    },
    {
      name: 'a PNG whose header claims 100000×100000 pixels, beside a real digit: 400 for it naming the pixel limit, the digit answered',
      run: async () => {
        const answer = await predict({ instances: [b64(digit.png), b64(pngClaiming(100_000, 100_000))] });
        assert.equal(answer.status, 400, answer.text);
        assert.match(
          answer.body.error,
          /^1 of 2 instances could not be answered: instance 1: the image cannot be used: the image has more than 40000000 pixels \(TLPIPE_MAX_IMAGE_PIXELS\)$/,
        );
        assertAnswersDigit(answer.body.predictions[0]);
      },
    },
    {
      name: 'a real, highly compressible PNG of 7000×7000 (49 Mpx in a few hundred KiB): 400 naming the pixel limit',
      run: async () => {
        const huge = await sharp({ create: { width: 7000, height: 7000, channels: 3, background: '#000' } })
          .png({ compressionLevel: 9 })
          .toBuffer();
        assert.ok(huge.length * 1.4 < BODY_LIMIT, `${huge.length} bytes`);
        const answer = await predict({ instances: [b64(huge), b64(digit.png)] });
        assert.equal(answer.status, 400, answer.text);
        assert.match(answer.body.predictions[0].error, /more than 40000000 pixels/);
        assertAnswersDigit(answer.body.predictions[1]);
      },
    },

    // JSON bombs and prototype keys.
    {
      name: 'instances nested 300 000 arrays deep: 400 with the schema message',
      run: async () => {
        const depth = 300_000;
        const answer = await request(withFiles, '/v1/models/digits:predict', {
          body: `{"instances":${'['.repeat(depth)}${']'.repeat(depth)}}`,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(answer.status, 400, answer.text.slice(0, 300));
        assert.match(answer.body.error, /^the body does not fit: /);
      },
    },
    {
      name: 'objects nested 150 000 deep holding a "constructor" key: 400, nothing walked to exhaustion',
      run: async () => {
        const depth = 150_000;
        const answer = await request(withFiles, '/v1/models/digits:predict', {
          body: `{"instances":[{"b64":"AAAA"}],"x":${'{"a":'.repeat(depth)}{"constructor":{"prototype":{"polluted":1}}}${'}'.repeat(depth)}}`,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(answer.status, 400, answer.text.slice(0, 300));
        assert.match(answer.body.error, /"__proto__" key or a "constructor" with a "prototype"/);
      },
    },
    ...[MAX_INSTANCES + 1, 20_000].map((count) => ({
      name: `${count} instances, over maxInstances (${MAX_INSTANCES}): refused whole, saying the limit`,
      run: async () => {
        const answer = await predict({ instances: Array.from({ length: count }, () => ({ b64: 'AAAA' })) });
        assert.equal(answer.status, 413, answer.text);
        assert.match(answer.body.error, new RegExp(`^${count} instances; a request holds at most ${MAX_INSTANCES}`));
      },
    })),
    {
      name: `${MAX_INSTANCES + 1} files in a multipart upload: 413 saying the limit`,
      run: async () => {
        const form = new FormData();
        for (let i = 0; i <= MAX_INSTANCES; i++) form.append('image', new Blob([digit.png]), `${i}.png`);
        const answer = await request(withFiles, '/v1/models/digits:predict', { body: form });
        assert.equal(answer.status, 413, answer.text);
        assert.match(answer.body.error, new RegExp(`${MAX_INSTANCES} files a request`));
      },
    },
    ...[
      ['"__proto__" in an instance', `{"instances":[{"b64":"B64","__proto__":{"polluted":1}}]}`],
      ['"__proto__" at the top', `{"__proto__":{"polluted":1},"instances":[{"b64":"B64"}]}`],
      ['"constructor": {"prototype"} as a row', `{"instances":[{"constructor":{"prototype":{"polluted":1}}}]}`],
    ].map(([what, json]) => ({
      name: `${what}: 400 naming the key, Object.prototype untouched`,
      run: async () => {
        const answer = await request(withFiles, '/v1/models/digits:predict', {
          body: json!.replace('B64', digit.png.toString('base64')),
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(answer.status, 400, answer.text);
        assert.match(answer.body.error, /holds a "__proto__" key or a "constructor" with a "prototype"/);
      },
    })),
    {
      name: 'rows named "constructor" and "toString" sent to an image model: 400 for each, saying it takes b64',
      run: async () => {
        const answer = await predict({ instances: [{ constructor: 1 }, { toString: 2 }, b64(digit.png)] });
        assert.equal(answer.status, 400, answer.text);
        assert.deepEqual(
          answer.body.predictions.slice(0, 2).map((p: { error: string }) => p.error),
          Array(2).fill('an image model takes {"b64": "<base64 image>"} instances'),
        );
        assertAnswersDigit(answer.body.predictions[2]);
      },
    },

    // b64 that is not an image, and wrong types.
    ...(
      [
        ['text that is not base64', { b64: 'not base64 at all!' }, /^instance 0: b64 is not base64 text$/],
        ['an empty b64', { b64: '' }, /^instance 0: the image cannot be used: empty file \(0 bytes\)$/],
        [
          'base64 of text, not of an image',
          { b64: Buffer.from('hello, world').toString('base64') },
          /^instance 0: the image cannot be used: /,
        ],
      ] as const
    ).map(([what, instance, message]) => ({
      name: `${what}: 400 naming instance 0`,
      run: async () => {
        const answer = await predict({ instances: [instance] });
        assert.equal(answer.status, 400, answer.text);
        assert.match(answer.body.error.replace(/^1 of 1 instances could not be answered: /, ''), message);
      },
    })),
    ...(
      [
        ['b64 a number', { instances: [{ b64: 5 }] }, /instances\/0\/b64 must be string/],
        ['b64 an array', { instances: [{ b64: ['AAAA'] }] }, /instances\/0\/b64 must be string/],
        ['instances a string', { instances: 'AAAA' }, /instances must be array/],
        ['instances an empty array', { instances: [] }, /instances must NOT have fewer than 1 items/],
        ['top a string', { instances: [{ b64: 'AAAA' }], top: '3' }, /top must be integer/],
        ['the body an array', [{ b64: 'AAAA' }], /body must be object/],
      ] as const
    ).map(([what, json, message]) => ({
      name: `${what}: 400 with the schema's message`,
      run: async () => {
        const answer = await predict(json);
        assert.equal(answer.status, 400, answer.text);
        assert.match(answer.body.error, /^the body does not fit: /);
        assert.match(answer.body.error, message);
      },
    })),
    // What curl -d (form-urlencoded) and fetch with a string (text/plain) send is JSON all the same, as TF Serving reads it.
    ...['text/plain', 'application/x-www-form-urlencoded'].map((type) => ({
      name: `a JSON body sent as ${type}: read as JSON, checked by the schema, answered as predict answers`,
      run: async () => {
        const headers = { 'content-type': type };
        const answer = await request(withFiles, '/v1/models/digits:predict', {
          body: JSON.stringify({ instances: [b64(digit.png)] }),
          headers,
        });
        assert.equal(answer.status, 200, answer.text);
        assertAnswersDigit(answer.body.predictions[0]);
        const unchecked = await request(withFiles, '/v1/models/digits:predict', {
          body: JSON.stringify({ instances: 'x.png' }),
          headers,
        });
        assert.equal(unchecked.status, 400, unchecked.text);
        assert.match(unchecked.body.error, /body\/instances must be array/);
      },
    })),
    {
      name: 'a body of another content type: 415 saying what to send',
      run: async () => {
        const answer = await request(withFiles, '/v1/models/digits:predict', {
          body: '<instances/>',
          headers: { 'content-type': 'application/xml' },
        });
        assert.equal(answer.status, 415, answer.text);
        assert.match(
          answer.body.error,
          /^a body of "application\/xml" is not taken: send JSON \(content-type: application\/json\) or images as multipart\/form-data$/,
        );
      },
    },

    // Slow clients.
    {
      name: 'headers, then a body dribbled a byte every 300 ms: 408 after the receive timeout, other clients answered meanwhile',
      run: async () => {
        const slow = rawRequest(
          withFiles.port,
          predictHead({ 'content-type': 'application/json', 'content-length': 5000 }),
          { chunks: filler(5000, 1), intervalMs: 300, close: 'wait' },
        );
        // Meanwhile: the server answers others while the slow one holds its connection.
        const meanwhile = await predict({ instances: [b64(digit.png)] });
        assert.equal(meanwhile.status, 200);
        const answer = await slow;
        assert.equal(answer.status, 408, answer.body);
        assert.deepEqual(JSON.parse(answer.body), {
          error: `the whole request did not arrive within ${RECEIVE_TIMEOUT_MS} ms`,
        });
        assert.ok(answer.sent < 100, `${answer.sent} bytes dribbled before it was cut off`);
      },
    },
    {
      name: 'headers dribbled a line every 300 ms (slowloris): 408 after the receive timeout',
      run: async () => {
        const answer = await rawRequest(withFiles.port, 'POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\n', {
          chunks: (function* () {
            for (let i = 0; i < 1000; i++) yield Buffer.from(`x-slow-${i}: 1\r\n`);
          })(),
          intervalMs: 300,
          close: 'wait',
        });
        assert.equal(answer.status, 408, answer.body);
      },
    },
    {
      name: '100 clients dribbling at once, and a real predict beside them: all cut off with 408, the predict answered',
      run: async () => {
        const slow = Array.from({ length: 100 }, () =>
          rawRequest(withFiles.port, predictHead({ 'content-type': 'application/json', 'content-length': 5000 }), {
            chunks: filler(5000, 1),
            intervalMs: 300,
            close: 'wait',
          }),
        );
        const meanwhile = await predict({ instances: [b64(digit.png)] });
        assertAnswersDigit(meanwhile.body.predictions[0]);
        const answers = await Promise.all(slow);
        assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([408]));
      },
    },
    {
      name: 'a connection that sends nothing at all is answered 408 and closed after the receive timeout',
      run: async () => {
        const answer = await rawRequest(withFiles.port, '', { close: 'wait' });
        // Node's headers timeout (the receive timeout) comes long before the socket's inactivity timeout, which also covers answers in the making.
        assert.equal(answer.status, 408);
        assert.ok(answer.ms < WAIT_MS);
      },
    },

    // Thousands of connections.
    {
      name: `1500 idle connections against maxConnections ${MAX_CONNECTIONS}: every one the server took is closed, and a new client is answered`,
      run: async () => {
        const sockets: net.Socket[] = [];
        try {
          await Promise.all(
            Array.from(
              { length: 1500 },
              () =>
                new Promise<void>((resolve) => {
                  const socket = net.connect(withFiles.port, '127.0.0.1');
                  sockets.push(socket);
                  socket.on('connect', () => resolve());
                  socket.on('error', () => resolve());
                  socket.on('close', () => resolve());
                }),
            ),
          );
          // Counted on the server's side: a burst this size overflows the listen backlog, and a client whose
          // handshake the kernel dropped thinks itself connected although the server never had it.
          const peak = serverSideConnections(withFiles.port);
          assert.ok(peak > MAX_CONNECTIONS, `${peak} connections reached the server`);
          const until = performance.now() + WAIT_MS;
          // Left: at most the few kept-alive connections of the fetches before.
          while (serverSideConnections(withFiles.port) > 10) {
            assert.ok(performance.now() < until, `${serverSideConnections(withFiles.port)} connections still open`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        } finally {
          for (const socket of sockets) socket.destroy();
        }
      },
    },

    // Paths that try to leave the allowed folder.
    {
      name: 'a path inside the allowed folder, plainly, through `sub/..`, through a link inside, and named `..digit.png`: answered as predict answers',
      run: async () => {
        const answer = await predict({
          instances: [
            { path: 'digit.png' },
            { path: 'sub/../digit.png' },
            { path: 'sub/link-in.png' },
            { path: '..digit.png' },
          ],
        });
        assert.equal(answer.status, 200, answer.text);
        for (const p of answer.body.predictions) assertAnswersDigit(p);
      },
    },
    ...(
      [
        ['../outside.png', /^path "\.\.\/outside\.png" is outside the allowed folder$/],
        ['a/../../outside.png', /^path "a\/\.\.\/\.\.\/outside\.png" is outside the allowed folder$/],
        ['sub/link-out.png', /^path "sub\/link-out\.png" is outside the allowed folder$/],
        ['/etc/passwd', /^path "\/etc\/passwd" is not relative to the allowed folder$/],
        [path.join(dir, 'outside.png'), /is not relative to the allowed folder$/],
        ['digit.png\u0000.txt', /^path "digit\.png\\u0000\.txt" is not relative to the allowed folder$/],
        ['..%2foutside.png', /^path "\.\.%2foutside\.png": not found in the allowed folder$/],
        ['../allowed/../outside.png', /^path "\.\.\/allowed\/\.\.\/outside\.png" is outside the allowed folder$/],
        ['.', /^path "\." is outside the allowed folder$/],
        ['pipe.png', /pipe\.png.*named pipe \(FIFO\), not a file/],
      ] as const
    ).map(([given, message]) => ({
      name: `{"path": ${JSON.stringify(given)}} with allowFiles: 400 for it, saying why, nothing read`,
      run: async () => {
        const answer = await predict({ instances: [{ path: given }, b64(digit.png)] });
        assert.equal(answer.status, 400, answer.text);
        assert.match(answer.body.predictions[0].error, message);
        assert.doesNotMatch(answer.body.predictions[0].error, /root:/, 'nothing of a file read');
        assertAnswersDigit(answer.body.predictions[1]);
      },
    })),
    {
      name: '{"path": …} on a server without allowFiles: 400 with the hint to start it with --allow-files',
      run: async () => {
        const answer = await predict({ instances: [{ path: 'digit.png' }] }, withoutFiles);
        assert.equal(answer.status, 400, answer.text);
        assert.match(answer.body.predictions[0].error, /reads no file by path.*--allow-files <folder>/);
      },
    },

    // Model names that try to leave.
    ...(
      [
        [
          'POST',
          '/v1/models/..%2F..%2Fetc:predict',
          /^no model named "\.\.\/\.\.\/etc" here; this server serves `digits`$/,
        ],
        [
          'POST',
          '/v1/models/..%2f..%2fetc%2fpasswd:predict',
          /^no model named "\.\.\/\.\.\/etc\/passwd" here; this server serves `digits`$/,
        ],
        ['GET', '/v1/models/..%2F..%2Fetc%2Fpasswd', /this server serves `digits`$/],
        ['POST', '/v2/models/..%2F..%2Fetc/infer', /this server serves `digits`$/],
        ['GET', '/v2/models/%2Fetc%2Fpasswd', /this server serves `digits`$/],
        [
          'POST',
          `/v1/models/${'a'.repeat(400)}:predict`,
          /^no model named "a{100}" here; this server serves `digits`$/,
        ],
        [
          'POST',
          `/v1/models/${'a'.repeat(600)}:predict`,
          /^no model by a name that long here; this server serves `digits`$/,
        ],
        [
          'POST',
          `/v1/models/${'a'.repeat(10_000)}:predict`,
          /^no model by a name that long here; this server serves `digits`$/,
        ],
      ] as const
    ).map(([method, route, message]) => ({
      name: `${method} ${route.length > 60 ? `${route.slice(0, 40)}… (${route.length} characters)` : route}: 404 naming the served model`,
      run: async () => {
        const answer = await request(withFiles, route, {
          method,
          ...(method === 'POST'
            ? {
                body: JSON.stringify(
                  route.startsWith('/v2')
                    ? {
                        inputs: [
                          { name: 'image', shape: [1], datatype: 'BYTES', data: [digit.png.toString('base64')] },
                        ],
                      }
                    : { instances: [b64(digit.png)] },
                ),
                headers: { 'content-type': 'application/json' },
              }
            : {}),
        });
        assert.equal(answer.status, 404, answer.text.slice(0, 300));
        assert.match(answer.body.error, message);
      },
    })),
    {
      name: "a route with a broken percent-encoding (%zz): 400 in the server's own shape",
      run: async () => {
        const answer = await rawRequest(
          withFiles.port,
          'GET /v1/models/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
          {
            close: 'wait',
          },
        );
        assert.equal(answer.status, 400, answer.body);
        assert.deepEqual(JSON.parse(answer.body), {
          error: 'the URL is not well-formed (a % not followed by two hex digits?)',
        });
      },
    },
  ];

  for (const c of cases)
    it(c.name, async () => {
      const eventsBefore = events.length;
      await c.run();
      await assertStillServing(eventsBefore);
    });

  it('every request was logged with its status, and none failed inside the server', () => {
    const statuses = new Set(events.map((e) => (e.type === 'request' ? e.status : 0)));
    for (const status of [200, 400, 404, 413, 415]) assert.ok(statuses.has(status), `a ${status} was logged`);
    assert.deepEqual(
      events.filter((e) => e.type === 'internal-error' || e.status >= 500),
      [],
    );
  });
});
