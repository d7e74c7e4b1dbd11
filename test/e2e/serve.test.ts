import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { serve, type FollowEvent, type ServeEvent } from '../../src/api/index.js';
import { packageRoot } from '../../src/package/package-root.js';
import { readJson, tlpipe, workspace, write, writeDigitImageFolder } from './cli-harness.js';
import {
  b64Instance,
  get,
  metricSamples,
  postJson,
  postMultipart,
  postRaw,
  predictLines,
  probabilitiesOf,
  queueDepth,
  startServe,
  waitFor,
  type HttpAnswer,
  type PredictLine,
  type ServeProcess,
} from './serve-harness.js';
import { TEXTURES, texturesPipeline } from './texture-segmentation.js';

/** MobileNetV2 cut early, at 32×32, one epoch on a few real digits: a real image classifier in about a second. */
const DIGITS_PIPELINE = `name: digits
seed: 1
backend: wasm
dataset:
  format: imageFolder
  dir: digits
  test: 0.2
  image: { size: [32, 32] }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1, batchSize: 8 }
`;

/** The texture fixture with the smallest decoder that gives a full-size mask: stride 4 back up to 64×64. */
const TEXTURES_PIPELINE = texturesPipeline({
  cut: 'block_2_add',
  head: [
    'upsample: { filters: 8, size: 3 }',
    'conv2dTranspose: { filters: classes, kernelSize: 3, strides: 2, padding: same }',
  ],
  train: ['batchSize: 4', 'stages:', '  - { epochs: 1 }'],
});

/** Anomaly detection on real MNIST digits, ones as normal: a memory bank of a few digits' patch features. */
const ONES_PIPELINE = `name: ones
seed: 5
backend: wasm
task: anomaly
dataset:
  format: mnist
  limit: { perClass: 6, testPerClass: 2 }
  validation: 0.25
  image: { size: [32, 32] }
base: { model: mobilenet_v2 }
anomaly: { normal: ['1'] }
`;

const TABLES = path.join(packageRoot(), 'test', 'fixtures', 'tables');
/** Rows of the wine table the run never trained on, with their label column (predict ignores it; so must serve). */
const WINE_ROWS = 5;

/** The flags every server here is started with: one worker, so two suites at once stay within two cores. */
const ONE_WORKER = ['--workers', '1'];

/** A served model and what `tlpipe predict` said of the same inputs, in the same order. */
interface Served {
  name: string;
  server: ServeProcess;
  runDir: string;
  labels: string[];
  /** predict's answer per probe. */
  expected: PredictLine[];
}

describe('tlpipe serve end to end: real runs, real HTTP on 127.0.0.1, answers equal to tlpipe predict', () => {
  const dir = workspace('serve');
  const models = {} as Record<'digits' | 'wine' | 'textures' | 'ones', Served>;
  /** The server with tight limits, for 413, 503 and 504. */
  let limited: ServeProcess;
  /** Image files: digits of every class in PNG and JPEG, and a colour texture of 64×64 (resized and not grey). */
  let probes: string[] = [];
  let textureProbes: string[] = [];
  /** Wine rows by column, as the CSV gives them, and the feature columns in the model's order. */
  let rows: Record<string, number>[] = [];
  let columns: string[] = [];
  const servers: ServeProcess[] = [];

  const runOf = (pipeline: string): string => {
    const runs = readdirSync(path.join(dir, 'runs', pipeline)).filter((n) => /^\d{4}-/.test(n));
    return path.join(dir, 'runs', pipeline, runs.sort()[0]!);
  };
  const predict = async (runDir: string, inputs: string[], more: string[] = []): Promise<PredictLine[]> => {
    const r = await tlpipe(['predict', runDir, ...inputs, '--json', '--top', '10', ...more], dir);
    assert.equal(r.code, 0, r.stderr);
    return predictLines(r.stdout);
  };
  const started = async (runDir: string, flags: string[] = []): Promise<ServeProcess> => {
    const server = await startServe(runDir, dir, [...ONE_WORKER, ...flags]);
    servers.push(server);
    return server;
  };

  before(async () => {
    const digits = await writeDigitImageFolder(path.join(dir, 'digits'), 6, ['png', 'jpg']);
    probes = [digits[0]!, digits[1]!, digits[7]!, digits[13]!, digits[14]!, path.join(TEXTURES, 'images', '0001.jpg')];
    textureProbes = ['0000.jpg', '0005.jpg'].map((f) => path.join(TEXTURES, 'images', f));
    write(dir, 'digits.yaml', DIGITS_PIPELINE);
    write(dir, 'textures.yaml', TEXTURES_PIPELINE);
    write(dir, 'ones.yaml', ONES_PIPELINE);
    copyFileSync(path.join(TABLES, 'wine.yaml'), path.join(dir, 'wine.yaml'));
    copyFileSync(path.join(TABLES, 'wine-train.csv'), path.join(dir, 'wine-train.csv'));
    const [header, ...lines] = readFileSync(path.join(TABLES, 'wine-test.csv'), 'utf8').trim().split('\n');
    writeFileSync(path.join(dir, 'rows.csv'), [header, ...lines.slice(0, WINE_ROWS)].join('\n') + '\n');
    const names = header!.split(',');
    rows = lines
      .slice(0, WINE_ROWS)
      .map((line) =>
        Object.fromEntries(line.split(',').flatMap((v, i) => (names[i] === 'label' ? [] : [[names[i]!, Number(v)]]))),
      );

    /** Trains a pipeline, then asks predict and starts a server on its run at once (each a process of its own). */
    const ready = async (
      name: keyof typeof models,
      runArgs: string[],
      inputs: string[],
      predictArgs: string[] = [],
    ): Promise<Served> => {
      const trained = await tlpipe(['run', `${name}.yaml`, '--quiet', ...runArgs], dir);
      assert.equal(trained.code, 0, trained.stderr);
      const runDir = runOf(name);
      const [expected, server] = await Promise.all([predict(runDir, inputs, predictArgs), started(runDir)]);
      return { name, server, runDir, labels: readJson(path.join(runDir, 'model', 'labels.json')), expected };
    };
    const digitsReady = ready('digits', [], probes);
    [models.digits, models.wine, models.textures, models.ones, limited] = await Promise.all([
      digitsReady,
      ready('wine', ['--set', 'train.stages[0].epochs=2'], [path.join(dir, 'rows.csv')]),
      ready('textures', [], textureProbes, ['--out', path.join(dir, 'masks')]),
      ready('ones', [], probes),
      // Batches wait 10 s for company and a request gives up after 3 s: a request waits, and the queue holds 2.
      digitsReady.then((m) =>
        started(m.runDir, [
          ...['--max-body-mb', '0.01', '--max-queue', '2', '--max-instances', '2', '--max-batch-size', '8'],
          ...['--max-latency-ms', '10000', '--timeout-ms', '3000'],
        ]),
      ),
    ]);
    columns = readJson(path.join(models.wine.runDir, 'model', 'preprocessing.json')).columns;
  });

  after(async () => {
    try {
      const ends = await Promise.all(servers.map((s) => s.stop()));
      assert.deepEqual(
        ends,
        servers.map(() => 0),
        'every server exits 0 on SIGTERM',
      );
      // With --json, stderr is for people and says only that the signal was heard: no library's warning leaks there.
      for (const server of servers)
        assert.deepEqual(
          server.cli
            .stderr()
            .split('\n')
            .filter((line) => line.trim() !== '' && !line.startsWith('SIGTERM: no longer accepting')),
          [],
        );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** 200, from the run being served. */
  const assertAnsweredBy = (r: HttpAnswer, m: Served): void => {
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.headers.get('x-tlpipe-run'), path.basename(m.runDir));
  };
  const predictUrl = (m: Served): string => `${m.server.url}/v1/models/${m.name}:predict`;
  const inferUrl = (m: Served): string => `${m.server.url}/v2/models/${m.name}/infer`;
  /** Each answer's probabilities (or, for segmentation, fractions) from a v1 predict answer. */
  const v1Answers = (r: HttpAnswer): Record<string, number>[] =>
    (r.body.predictions as { probabilities?: Record<string, number>; fractions?: Record<string, number> }[]).map(
      (p) => p.probabilities ?? p.fractions!,
    );
  /** The probabilities tensor of a v2 infer answer, by label. */
  const v2Answers = (r: HttpAnswer, labels: string[]): Record<string, number>[] => {
    const output = (r.body.outputs as { name: string; shape: number[]; data: number[] }[]).find(
      (o) => o.name === 'probabilities',
    )!;
    assert.deepEqual(output.shape, [output.data.length / labels.length, labels.length]);
    return Array.from({ length: output.shape[0]! }, (_, i) =>
      Object.fromEntries(labels.map((label, c) => [label, output.data[i * labels.length + c]!])),
    );
  };

  describe("answers equal tlpipe predict's for the same inputs, probability for probability", () => {
    const CASES: {
      name: string;
      model: keyof typeof models;
      ask: (m: Served) => Promise<Record<string, number>[]>;
    }[] = [
      {
        name: 'image classifier: JSON {"b64"} instances',
        model: 'digits',
        ask: async (m) => {
          const r = await postJson(predictUrl(m), { instances: probes.map(b64Instance), top: m.labels.length });
          assertAnswered(r, m);
          // The best classes too, in predict's order.
          assert.deepEqual(
            r.body.predictions.map((p: { top: unknown }) => p.top),
            m.expected.map((e) => e.top),
          );
          return v1Answers(r);
        },
      },
      {
        name: 'image classifier: a multipart upload of the files',
        model: 'digits',
        ask: async (m) => {
          const files = probes.map((file) => ({
            name: path.basename(file),
            bytes: readFileSync(file),
            type: file.endsWith('.png') ? 'image/png' : 'image/jpeg',
          }));
          const r = await postMultipart(predictUrl(m), files);
          assertAnswered(r, m);
          return v1Answers(r);
        },
      },
      {
        name: 'image classifier: Open Inference /v2/models/{name}/infer, one BYTES input',
        model: 'digits',
        ask: async (m) => {
          const data = probes.map((file) => b64Instance(file).b64);
          const r = await postJson(inferUrl(m), {
            id: 'probe',
            inputs: [{ name: 'image', datatype: 'BYTES', shape: [data.length], data }],
          });
          assertAnswered(r, m);
          assert.equal(r.body.id, 'probe');
          assert.deepEqual(
            r.body.outputs.find((o: { name: string }) => o.name === 'label').data,
            m.expected.map((e) => e.top[0]!.label),
          );
          return v2Answers(r, m.labels);
        },
      },
      {
        name: 'tabular classifier: rows as objects by column (the CSV label column left out)',
        model: 'wine',
        ask: async (m) => {
          const r = await postJson(predictUrl(m), { instances: rows });
          assertAnswered(r, m);
          return v1Answers(r);
        },
      },
      {
        name: "tabular classifier: rows as arrays in the model's column order",
        model: 'wine',
        ask: async (m) => {
          const r = await postJson(predictUrl(m), { instances: rows.map((row) => columns.map((c) => row[c]!)) });
          assertAnswered(r, m);
          return v1Answers(r);
        },
      },
      {
        name: 'tabular classifier: Open Inference FP32 input of shape [n, columns]',
        model: 'wine',
        ask: async (m) => {
          const data = rows.flatMap((row) => columns.map((c) => row[c]!));
          const r = await postJson(inferUrl(m), {
            inputs: [{ name: 'rows', datatype: 'FP32', shape: [rows.length, columns.length], data }],
          });
          assertAnswered(r, m);
          return v2Answers(r, m.labels);
        },
      },
      {
        name: 'segmentation: each class\'s fraction of the mask, from {"b64"} instances',
        model: 'textures',
        ask: async (m) => {
          const r = await postJson(predictUrl(m), { instances: textureProbes.map(b64Instance) });
          assertAnswered(r, m);
          return v1Answers(r);
        },
      },
    ];

    /** 200, from the run being served, one answer per input. */
    function assertAnswered(r: HttpAnswer, m: Served): void {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.headers.get('x-tlpipe-run'), path.basename(m.runDir));
    }

    for (const c of CASES)
      it(c.name, async () => {
        const m = models[c.model];
        const answers = await c.ask(m);
        const expected = m.expected.map((e) => e.segmentation?.fractions ?? probabilitiesOf(e));
        assert.equal(answers.length, expected.length);
        // Strict: the very same float for every class, not a tolerance.
        answers.forEach((answer, i) => assert.deepEqual(answer, expected[i], `input ${i}`));
      });

    it("segmentation: the served mask is predict --out's mask, pixel for pixel", async () => {
      const m = models.textures;
      const r = await postJson(predictUrl(m), { instances: textureProbes.map(b64Instance) });
      assert.equal(r.status, 200);
      for (const [i, p] of (
        r.body.predictions as { mask: { png: string; width: number; height: number } }[]
      ).entries()) {
        assert.deepEqual([p.mask.width, p.mask.height], [64, 64]);
        const served = await sharp(Buffer.from(p.mask.png, 'base64')).extractChannel(0).raw().toBuffer();
        const written = await sharp(path.resolve(dir, m.expected[i]!.segmentation!.mask!))
          .extractChannel(0)
          .raw()
          .toBuffer();
        assert.ok(served.equals(written), `mask ${i}`);
      }
    });
  });

  it("anomaly detection: each image's score, threshold, verdict and patch scores are predict's (v1), and v2's tensors hold them", async () => {
    const m = models.ones;
    const v1 = await postJson(predictUrl(m), { instances: probes.map(b64Instance) });
    assertAnsweredBy(v1, m);
    assert.deepEqual(
      v1.body.predictions,
      m.expected.map((e) => ({ label: e.top[0]!.label, ...e.anomaly! })),
    );
    const data = probes.map((file) => b64Instance(file).b64);
    const v2 = await postJson(inferUrl(m), {
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [data.length], data }],
    });
    assertAnsweredBy(v2, m);
    const output = (name: string): unknown[] =>
      (v2.body.outputs as { name: string; data: unknown[] }[]).find((o) => o.name === name)!.data;
    assert.deepEqual(
      output('label'),
      m.expected.map((e) => e.top[0]!.label),
    );
    assert.deepEqual(
      output('score'),
      m.expected.map((e) => e.anomaly!.score),
    );
    assert.deepEqual(
      output('anomalous'),
      m.expected.map((e) => e.anomaly!.anomalous),
    );
    assert.deepEqual(
      output('threshold'),
      m.expected.map((e) => e.anomaly!.threshold),
    );
    assert.ok(
      m.expected.some((e) => e.anomaly!.anomalous) && m.expected.some((e) => !e.anomaly!.anomalous),
      'the probes hold both verdicts, so the comparison says something',
    );
  });

  describe('GET /v1/models/{name}, health, readiness and metrics', () => {
    for (const name of ['digits', 'wine', 'textures'] as const)
      it(`${name}: labels, input, preprocessing, task, and the run id and fingerprint of run.json`, async () => {
        const m = models[name];
        const r = await get(`${m.server.url}/v1/models/${name}`);
        assert.equal(r.status, 200);
        const record = readJson(path.join(m.runDir, 'run.json'));
        const preprocessing = readJson(path.join(m.runDir, 'model', 'preprocessing.json'));
        assert.equal(r.body.name, name);
        assert.equal(r.body.task, name === 'textures' ? 'segmentation' : 'classification');
        assert.deepEqual(r.body.labels, m.labels);
        assert.deepEqual(r.body.preprocessing, preprocessing);
        assert.deepEqual(
          r.body.input,
          name === 'wine' ? { columns } : { size: preprocessing.inputSize, channels: preprocessing.channels },
        );
        if (name === 'digits') assert.deepEqual(r.body.input, { size: [32, 32], channels: 3 });
        assert.equal(r.body.run.id, record.id);
        assert.equal(r.body.run.fingerprint, record.fingerprint);
        assert.equal(r.body.run.pipeline, name);
        assert.equal(r.headers.get('x-tlpipe-run'), record.id);
      });

    it('/healthz is live, /readyz names the model and run, and the v2 health routes agree', async () => {
      const { server, runDir } = models.digits;
      const answers = await Promise.all(
        ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready'].map((route) => get(server.url + route)),
      );
      assert.deepEqual(
        answers.map((a) => [a.status, a.body]),
        [
          [200, { status: 'live' }],
          [200, { status: 'ready', model: 'digits', run: path.basename(runDir) }],
          [200, { live: true }],
          [200, { ready: true }],
        ],
      );
    });

    it('/metrics: requests by route and status, the latency histogram, batch sizes and queue depth', async () => {
      const m = models.digits;
      const asked = await postJson(predictUrl(m), { instances: probes.slice(0, 3).map(b64Instance) });
      assert.equal(asked.status, 200);
      const r = await get(`${m.server.url}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
      const text = r.body as string;
      const requests = metricSamples(text, 'tlpipe_serve_requests_total');
      const predicted = requests.find((s) => s.labels['route'] === '/v1/models/:call' && s.labels['status'] === '200');
      assert.ok(predicted && predicted.value >= 1, JSON.stringify(requests));
      assert.match(text, /^# TYPE tlpipe_serve_request_duration_seconds histogram$/m);
      const buckets = metricSamples(text, 'tlpipe_serve_request_duration_seconds_bucket').filter(
        (s) => s.labels['route'] === '/v1/models/:call',
      );
      assert.ok(buckets.length > 2);
      const count = metricSamples(text, 'tlpipe_serve_request_duration_seconds_count').find(
        (s) => s.labels['route'] === '/v1/models/:call',
      )!;
      assert.equal(buckets.find((b) => b.labels['le'] === '+Inf')!.value, count.value);
      assert.equal(count.value, predicted.value);
      assert.match(text, /^# TYPE tlpipe_serve_batch_size histogram$/m);
      assert.ok(metricSamples(text, 'tlpipe_serve_batch_size_count')[0]!.value >= 1);
      // At least the three instances just answered were counted in batches.
      assert.ok(metricSamples(text, 'tlpipe_serve_batch_size_sum')[0]!.value >= 3);
      assert.deepEqual(
        metricSamples(text, 'tlpipe_serve_queue_depth').map((s) => s.value),
        [0],
      );
    });
  });

  describe('limits and failures answer with status codes, and the server goes on', () => {
    const notAnImage = Buffer.from('this is a text file, not an image').toString('base64');
    const CASES: { name: string; check: () => Promise<void> }[] = [
      {
        name: '413: a JSON body over --max-body-mb 0.01',
        check: async () => {
          const big = Buffer.alloc(12_000, 7).toString('base64');
          const r = await postJson(`${limited.url}/v1/models/digits:predict`, { instances: [{ b64: big }] });
          assert.equal(r.status, 413, JSON.stringify(r.body));
          assert.match(r.body.error, /at most 10486 bytes/);
        },
      },
      {
        name: '413: a multipart upload over --max-body-mb 0.01',
        check: async () => {
          const r = await postMultipart(`${limited.url}/v1/models/digits:predict`, [
            { name: 'big.png', bytes: Buffer.alloc(12_000, 7) },
          ]);
          assert.equal(r.status, 413, JSON.stringify(r.body));
          assert.match(r.body.error, /10486 bytes/);
        },
      },
      {
        name: '400: an undecodable image is named; the rest of the batch is answered',
        check: async () => {
          const m = models.digits;
          const truncated = readFileSync(probes[0]!).subarray(0, 40).toString('base64');
          const r = await postJson(predictUrl(m), {
            instances: [b64Instance(probes[0]!), { b64: notAnImage }, b64Instance(probes[1]!), { b64: truncated }],
          });
          assert.equal(r.status, 400, JSON.stringify(r.body));
          assert.match(r.body.error, /^2 of 4 instances could not be answered: instance 1: .+; instance 3: .+/);
          const [first, bad, second, cut] = r.body.predictions;
          assert.deepEqual(first.probabilities, probabilitiesOf(m.expected[0]!));
          assert.deepEqual(second.probabilities, probabilitiesOf(m.expected[1]!));
          for (const failed of [bad, cut]) {
            assert.deepEqual(Object.keys(failed), ['error']);
            assert.match(failed.error, /^the image cannot be used: .*(unsupported image format|corrupt)/);
          }
        },
      },
      {
        name: "400: malformed bodies, each with the schema's (or the parser's) message",
        check: async () => {
          const url = predictUrl(models.digits);
          const MALFORMED: [body: string, message: RegExp][] = [
            ['{"instancez": []}', /must have required property 'instances'/],
            ['{"instances": []}', /must NOT have fewer than 1 items/],
            // Not coerced into a list of one: said as what it is.
            ['{"instances": "x.png"}', /body\/instances must be array/],
            ['{"instances": [{"b64": 5}]}', /body\/instances\/0\/b64 must be string/],
            [
              '{"instances": [{"b64": "AAAA", "extra": 1}]}',
              /body\/instances\/0 must NOT have additional properties \(`extra`\)/,
            ],
            ['{"instances": [{"b64": "AAAA"}], "top": 0}', /top.*must be >= 1/],
            ['{"instances": [', /JSON|Unexpected end/i],
          ];
          for (const [body, message] of MALFORMED) {
            const r = await postRaw(url, body, 'application/json');
            assert.equal(r.status, 400, body);
            assert.match(r.body.error, message, body);
          }
          const v2 = await postJson(inferUrl(models.digits), { inputs: [{ name: 'image', datatype: 'BYTES' }] });
          assert.equal(v2.status, 400);
          assert.match(v2.body.error, /must have required property 'shape'/);
        },
      },
      {
        name: '404: a model name this server does not serve, on every model route',
        check: async () => {
          const { url } = models.digits.server;
          const answers = await Promise.all([
            postJson(`${url}/v1/models/nope:predict`, { instances: [b64Instance(probes[0]!)] }),
            get(`${url}/v1/models/nope`),
            postJson(`${url}/v2/models/nope/infer`, {
              inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [b64Instance(probes[0]!).b64] }],
            }),
          ]);
          for (const r of answers) {
            assert.equal(r.status, 404);
            assert.match(r.body.error, /no model named "nope" here; this server serves `digits`/);
          }
        },
      },
      {
        name: '503 with Retry-After: the queue (--max-queue 2) is full while a request waits for its batch',
        check: async () => {
          const url = `${limited.url}/v1/models/digits:predict`;
          const waiting = postJson(url, { instances: probes.slice(0, 2).map(b64Instance) });
          void waiting.catch(() => {});
          await waitFor('2 instances queued', async () => (await queueDepth(limited.url)) === 2);
          const refused = await postJson(url, { instances: [b64Instance(probes[2]!)] });
          assert.equal(refused.status, 503, JSON.stringify(refused.body));
          assert.equal(refused.headers.get('retry-after'), '1');
          assert.match(refused.body.error, /the queue is full \(2 instances waiting\); try again in 1 s/);
          // The one waiting gives up at its timeout (504) and leaves the queue.
          assert.equal((await waiting).status, 504);
          assert.equal(await queueDepth(limited.url), 0);
        },
      },
      {
        name: '504: a request not answered within --timeout-ms 3000 (its batch waits 10 s)',
        check: async () => {
          const r = await postJson(`${limited.url}/v1/models/digits:predict`, {
            instances: [b64Instance(probes[0]!)],
          });
          assert.equal(r.status, 504, JSON.stringify(r.body));
          assert.match(r.body.error, /no answer within 3000 ms/);
          assert.ok(r.ms >= 2_900, `answered after ${r.ms} ms`);
        },
      },
    ];
    for (const c of CASES) it(c.name, c.check);

    it('each refusal was one log line with its status, counted in /metrics; the servers still answer', async () => {
      const predictLog = () =>
        limited.log().filter((l) => l.type === 'request' && String(l['url']).includes(':predict'));
      // A line is written as its answer goes: the last may still be on its way.
      await waitFor('a log line for each answer', () => predictLog().length >= 5);
      const logged = predictLog();
      assert.deepEqual(
        logged.map((l) => l['status']),
        [413, 413, 503, 504, 504],
      );
      const metrics = (await get(`${limited.url}/metrics`)).body as string;
      const errors = Object.fromEntries(
        metricSamples(metrics, 'tlpipe_serve_request_errors_total')
          .filter((s) => s.labels['route'] === '/v1/models/:call')
          .map((s) => [s.labels['status'], s.value]),
      );
      assert.deepEqual(errors, { '413': 2, '503': 1, '504': 2 });
      for (const server of [limited, models.digits.server])
        assert.equal((await get(`${server.url}/healthz`)).status, 200);
    });
  });

  it('health stays fast while batches run: 20 /healthz probes under load, each under 1 s', async () => {
    const m = models.digits;
    const batch = { instances: Array.from({ length: 16 }, (_, i) => b64Instance(probes[i % probes.length]!)) };
    let inFlight = 0;
    let done = false;
    const predictMs: number[] = [];
    const statuses = new Set<number>();
    const client = async (): Promise<void> => {
      while (!done) {
        inFlight++;
        const r = await postJson(predictUrl(m), batch).then(
          (answer) => answer,
          () => undefined,
        );
        inFlight--;
        statuses.add(r?.status ?? 0);
        if (r) predictMs.push(r.ms);
      }
    };
    const clients = Array.from({ length: 4 }, () => client());
    try {
      await waitFor('the first answers under load', () => predictMs.length >= 4);
      const probeMs: number[] = [];
      for (let i = 0; i < 20; i++) {
        assert.ok(inFlight > 0, 'a predict request is in flight as the probe goes');
        const r = await get(`${m.server.url}/healthz`);
        assert.equal(r.status, 200);
        probeMs.push(r.ms);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const said = `health: median ${median(probeMs).toFixed(1)} ms, max ${Math.max(...probeMs).toFixed(1)} ms; predict (16 instances, 4 clients): median ${median(predictMs).toFixed(1)} ms over ${predictMs.length}`;
      console.log(said);
      assert.ok(Math.max(...probeMs) < 1000, said);
      // Within this run: a health check does not wait for the batches the predict requests wait for.
      assert.ok(median(probeMs) < median(predictMs), said);
    } finally {
      done = true;
      await Promise.allSettled(clients);
    }
    assert.deepEqual([...statuses], [200]);
  });

  it('follows runs/<pipeline>: a newer run swaps in under load, no request fails, and answers come from it after', async () => {
    const events: (ServeEvent | FollowEvent)[] = [];
    const opened = await serve(path.join(dir, 'runs', 'digits'), {
      port: 0,
      workers: 1,
      followIntervalMs: 200,
      onEvent: (e) => events.push(e),
    });
    assert.ok(opened.ok, JSON.stringify(!opened.ok && opened.diagnostics));
    const server = opened.value;
    const oldRun = path.basename(models.digits.runDir);
    type Asked = {
      sentAt: number;
      probe: number;
      status: number;
      run: string | null;
      answer?: Record<string, number>;
      failure?: string;
    };
    const asked: Asked[] = [];
    let done = false;
    try {
      assert.equal(server.model().run?.id, oldRun);
      const client = async (first: number): Promise<void> => {
        for (let n = first; !done; n++) {
          const probe = n % probes.length;
          const sentAt = performance.now();
          try {
            const r = await postJson(`${server.url}/v1/models/digits:predict`, {
              instances: [b64Instance(probes[probe]!)],
            });
            asked.push({
              sentAt,
              probe,
              status: r.status,
              run: r.headers.get('x-tlpipe-run'),
              answer: r.body.predictions?.[0]?.probabilities,
            });
          } catch (error) {
            asked.push({ sentAt, probe, status: 0, run: null, failure: String(error) });
          }
        }
      };
      const clients = [0, 2, 4].map((first) => client(first));
      try {
        // Another seed: a different model, so an answer shows which run gave it.
        const trained = await tlpipe(['run', 'digits.yaml', '--quiet', '--set', 'seed=2'], dir);
        assert.equal(trained.code, 0, trained.stderr);
        await waitFor('the swap', () => events.some((e) => e.type === 'swapped'), 120_000);
        const swappedAt = performance.now();
        await waitFor(
          '20 answers after the swap',
          () => asked.filter((a) => a.sentAt > swappedAt).length >= 20,
          120_000,
        );
        done = true;
        await Promise.all(clients);
        const newRun = readdirSync(path.join(dir, 'runs', 'digits')).filter((n) => n.startsWith('0002-'))[0]!;
        const newRecord = readJson(path.join(dir, 'runs', 'digits', newRun, 'run.json'));
        assert.deepEqual(
          events
            .filter((e) => e.type === 'swapped' || e.type === 'swap-failed')
            .map((e) => [e.type, 'to' in e ? e.to : '', 'from' in e ? e.from : '']),
          [['swapped', newRun, oldRun]],
        );
        assert.deepEqual(
          asked.filter((a) => a.status !== 200),
          [],
          'every request across the swap was answered 200',
        );
        assert.ok(
          asked.some((a) => a.run === oldRun),
          'some answers came from the old run',
        );
        assert.deepEqual(
          [...new Set(asked.filter((a) => a.sentAt > swappedAt).map((a) => a.run))],
          [newRun],
          'every request sent after the swap was answered by the new run',
        );
        // Each answer is predict's answer of the run it says answered.
        const newExpected = await predict(path.join(dir, 'runs', 'digits', newRun), probes);
        const expectedOf = { [oldRun]: models.digits.expected, [newRun]: newExpected };
        assert.notDeepEqual(probabilitiesOf(newExpected[0]!), probabilitiesOf(models.digits.expected[0]!));
        for (const a of asked)
          assert.deepEqual(a.answer, probabilitiesOf(expectedOf[a.run!]![a.probe]!), `${a.run} probe ${a.probe}`);
        const described = await get(`${server.url}/v1/models/digits`);
        assert.equal(described.body.run.id, newRecord.id);
        assert.equal(described.body.run.fingerprint, newRecord.fingerprint);
        assert.equal(server.model().run?.id, newRun);
        console.log(
          `swap under load: ${asked.length} requests, ${asked.filter((a) => a.run === oldRun).length} answered by ${oldRun}, the rest by ${newRun}`,
        );
      } finally {
        done = true;
        await Promise.allSettled(clients);
      }
    } finally {
      await server.close();
    }
  });

  it('SIGTERM mid-load: every accepted request is answered 200, the process exits 0, and the log ends with closed', async () => {
    const m = models.digits;
    // Batches wait 30 s for company (and a request 60 s for its answer): the requests are accepted and queued
    // when SIGTERM comes, and closing sends them at once.
    const server = await startServe(m.runDir, dir, [
      ...ONE_WORKER,
      ...['--max-batch-size', '64', '--max-latency-ms', '30000', '--timeout-ms', '60000'],
    ]);
    try {
      const REQUESTS = 12;
      const url = `${server.url}/v1/models/digits:predict`;
      const pending = Array.from({ length: REQUESTS }, (_, i) =>
        postJson(url, { instances: [0, 1, 2].map((k) => b64Instance(probes[(i + k) % probes.length]!)) }),
      );
      // Marked handled: if the wait below fails, the requests fail with the server, not as unhandled rejections.
      void Promise.allSettled(pending);
      await waitFor('every request queued', async () => (await queueDepth(server.url)) === REQUESTS * 3);
      const exited = server.stop('SIGTERM');
      const answers = await Promise.all(pending);
      answers.forEach((r, i) => {
        assert.equal(r.status, 200, `request ${i}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(
          v1Answers(r),
          [0, 1, 2].map((k) => probabilitiesOf(m.expected[(i + k) % probes.length]!)),
        );
      });
      assert.equal(await exited, 0);
      const log = server.log();
      assert.deepEqual(log.at(-1)?.type, 'closed');
      const predicted = log.filter((l) => l.type === 'request' && String(l['url']).endsWith(':predict'));
      assert.deepEqual(
        predicted.map((l) => [l['status'], l['instances']]),
        answers.map(() => [200, 3]),
      );
      // Sent as the server closed, not after the 30 s the batch would have waited for company.
      for (const line of predicted) assert.ok(Number(line['ms']) < 30_000, JSON.stringify(line));
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
