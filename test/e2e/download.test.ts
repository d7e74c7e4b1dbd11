import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { selectBackend } from '../../src/engine/kernels/backend.js';
import { downloadModel } from '../../src/engine/model/download.js';
import { loadLocalArtifacts } from '../../src/engine/model/local-model.js';
import { buildBase } from '../../src/engine/model/build-models.js';
import { loadZooArtifacts } from '../../src/engine/model/zoo.js';
import { fileModelHandler } from '../../src/store/model-folder.js';
import { tlpipe, workspace, write } from './cli-harness.js';

/**
 * A real HTTP server on 127.0.0.1 serving a real model the test saved: the
 * bottom of MobileNetV2. /truncated/ declares more bytes than it sends.
 */
describe('downloading a base model over HTTP', () => {
  const dir = workspace('download');
  const served = path.join(dir, 'served');
  let server: Server;
  let base = '';
  const requests: string[] = [];

  before(async () => {
    await selectBackend('wasm');
    const model = await buildBase(loadZooArtifacts('mobilenet_v2'), 'block_1_expand_relu', [32, 32, 3]);
    await model.save(fileModelHandler(served));
    server = createServer((request, response) => {
      requests.push(request.url!);
      const [, kind, file] = request.url!.split('/');
      const local = path.join(served, file ?? '');
      if (!existsSync(local) || (kind !== 'good' && kind !== 'truncated')) {
        response.writeHead(404).end('not found');
        return;
      }
      const body = readFileSync(local);
      if (kind === 'truncated' && file === 'weights.bin') {
        response.writeHead(200, { 'content-length': String(body.length) });
        response.write(body.subarray(0, body.length >> 1));
        setTimeout(() => response.socket?.destroy(), 20);
        return;
      }
      response.writeHead(200, { 'content-length': String(body.length) }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => server.close());

  it('downloads once into the cache, then uses the cache without the network', async () => {
    const cache = workspace('cache');
    const first = await downloadModel(`${base}/good/model.json`, { cache, allowHttp: true });
    assert.equal(first.fetched, true);
    assert.equal(first.sha256, (await loadLocalArtifacts(path.join(served, 'model.json'))).digest);
    const count = requests.length;
    const second = await downloadModel(`${base}/good/model.json`, { cache, allowHttp: true });
    assert.deepEqual([second.fetched, second.file, second.sha256], [false, first.file, first.sha256]);
    assert.equal(requests.length, count, 'no request for a cached model');
  });

  const failures: {
    name: string;
    url: () => string;
    sha256?: string;
    allowHttp?: boolean;
    maxMb?: string;
    message: RegExp;
  }[] = [
    {
      name: 'plain http without allowHttp',
      url: () => `${base}/good/model.json`,
      allowHttp: false,
      message: /downloads base models over https only/,
    },
    {
      name: 'a download over the size limit',
      url: () => `${base}/good/model.json`,
      maxMb: '0.01',
      message: /exceeds the size limit of 0\.01 MiB/,
    },
    { name: 'a truncated download', url: () => `${base}/truncated/model.json`, message: /broke off|truncated/ },
    {
      name: 'a wrong checksum',
      url: () => `${base}/good/model.json`,
      sha256: 'f'.repeat(64),
      message: /downloaded with sha256 [0-9a-f]{64}, but the pipeline pins f{64}/,
    },
    { name: 'a missing file', url: () => `${base}/good/nothing.json`, message: /HTTP 404/ },
    {
      name: 'a closed port',
      url: () => 'http://127.0.0.1:9/model.json',
      message: /cannot download http:\/\/127.0.0.1:9\/model.json: /,
    },
  ];
  for (const c of failures) {
    it(`${c.name} is a clear error and caches nothing`, async () => {
      const cache = workspace('cache-bad');
      if (c.maxMb) process.env['TLPIPE_MAX_DOWNLOAD_MB'] = c.maxMb;
      try {
        await assert.rejects(
          downloadModel(c.url(), { cache, allowHttp: c.allowHttp ?? true, ...(c.sha256 ? { sha256: c.sha256 } : {}) }),
          c.message,
        );
      } finally {
        delete process.env['TLPIPE_MAX_DOWNLOAD_MB'];
      }
      const models = path.join(cache, 'models');
      assert.deepEqual(existsSync(models) ? readdirSync(models) : [], []);
    });
  }

  it('tlpipe run with an http base downloads it, records its sha256 in run.json, and reuses the cache', async () => {
    const cache = workspace('cache-cli');
    write(
      dir,
      'remote.yaml',
      `name: remote
dataset:
  format: mnist
  limit: { perClass: 3, testPerClass: 1 }
  image: { size: [32, 32] }
base:
  model: ${base}/good/model.json
  allowHttp: true
  cut: block_1_expand_relu
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1 }
`,
    );
    const env = { TLPIPE_CACHE: cache };
    const r = await tlpipe(['run', 'remote.yaml'], dir, env);
    assert.equal(r.code, 0, r.stderr);
    const runs = path.join(dir, 'runs', 'remote');
    const run = JSON.parse(
      readFileSync(
        path.join(
          runs,
          readdirSync(runs).find((n) => n.startsWith('0001-'))!,
          'run.json',
        ),
        'utf8',
      ),
    );
    assert.deepEqual(run.download, {
      url: `${base}/good/model.json`,
      sha256: (await loadLocalArtifacts(path.join(served, 'model.json'))).digest,
    });
    const count = requests.length;
    assert.equal((await tlpipe(['run', 'remote.yaml', '--quiet'], dir, env)).code, 0);
    assert.equal(requests.length, count, 'the second run used the cache');
  });
});
