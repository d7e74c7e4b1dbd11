import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import type { MemoryBank } from '../../src/engine/anomaly/memory-bank.js';
import {
  BANK_DATA_FILE,
  BANK_HEADER_FILE,
  isAnomalyModelFolder,
  readMemoryBank,
  writeMemoryBank,
  type MemoryBankInfo,
} from '../../src/store/memory-bank-file.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-bank-'));
after(() => rmSync(root, { recursive: true, force: true }));

const bank: MemoryBank = { patches: Float32Array.from({ length: 12 }, (_, i) => i / 3 - 1), count: 4, dim: 3 };
const info: MemoryBankInfo = {
  features: {
    base: 'mobilenet_v2',
    layers: ['block_6_expand_relu', 'block_13_expand_relu'],
    neighbourhood: 3,
    projectTo: 3,
    seed: 42,
    imageSize: [64, 64],
    grid: [8, 8],
    depth: 768,
  },
  threshold: { value: 1.5, quantile: 0.99, from: 30 },
  coreset: { fraction: 0.1, maxBytes: 2 ** 20, seed: 42, projectTo: 128, fromPatches: 40, kept: 4, capped: false },
  scoring: { neighbours: 1 },
  classes: { names: ['cat', 'dog', 'fox'], normal: ['cat', 'dog'] },
};

let folders = 0;
async function written(): Promise<string> {
  const dir = path.join(root, `model-${folders++}`);
  await writeMemoryBank(dir, bank, info);
  return dir;
}

const header = (dir: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(dir, BANK_HEADER_FILE), 'utf8')) as Record<string, unknown>;
const rewriteHeader = (dir: string, change: (h: Record<string, unknown>) => void): void => {
  const h = header(dir);
  change(h);
  writeFileSync(path.join(dir, BANK_HEADER_FILE), JSON.stringify(h));
};

async function rejects(dir: string, message: RegExp, options?: { maxBytes?: number }): Promise<void> {
  await assert.rejects(readMemoryBank(dir, options), (error: unknown) => {
    assert.ok(error instanceof UserError, `not a UserError: ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

describe('the memory bank file', () => {
  it('round-trips the patches and the header', async () => {
    const dir = await written();
    const read = await readMemoryBank(dir);
    assert.deepEqual(read.bank, bank);
    assert.deepEqual(read.header.features, info.features);
    assert.deepEqual(read.header.threshold, info.threshold);
    assert.deepEqual(read.header.coreset, info.coreset);
    assert.deepEqual(read.header.shape, [4, 3]);
    assert.equal(read.header.data, BANK_DATA_FILE);
    assert.deepEqual(read.header.classes, info.classes);
  });

  it('reads a header written before the classes were recorded (they are absent, not invented)', async () => {
    const dir = await written();
    rewriteHeader(dir, (h) => delete h['classes']);
    const read = await readMemoryBank(dir);
    assert.equal(read.header.classes, undefined);
    assert.deepEqual(read.bank, bank);
  });

  it('tells an anomaly model folder by its header, and nothing else', async () => {
    const dir = await written();
    assert.equal(await isAnomalyModelFolder(dir), true);
    rmSync(path.join(dir, BANK_HEADER_FILE));
    assert.equal(await isAnomalyModelFolder(dir), false);
  });

  const damage: { name: string; damage: (dir: string) => void; message: RegExp; maxBytes?: number }[] = [
    {
      name: 'a flipped byte in the data',
      damage: (dir) => {
        const file = path.join(dir, BANK_DATA_FILE);
        const bytes = readFileSync(file);
        bytes[5]! ^= 0x10;
        writeFileSync(file, bytes);
      },
      message: /does not match the sha256/,
    },
    {
      name: 'data cut short',
      damage: (dir) =>
        writeFileSync(path.join(dir, BANK_DATA_FILE), readFileSync(path.join(dir, BANK_DATA_FILE)).subarray(0, 40)),
      message: /has 40 bytes, not the 48/,
    },
    {
      name: 'a declared size that disagrees with the shape',
      damage: (dir) => rewriteHeader(dir, (h) => (h['bytes'] = 52)),
      message: /declares 52 bytes for 4×3/,
    },
    {
      name: 'an oversize declared bank (checked before reading it)',
      damage: (dir) =>
        rewriteHeader(dir, (h) => {
          h['shape'] = [2 ** 30, 1024];
          h['bytes'] = 2 ** 30 * 1024 * 4;
        }),
      message: /more than the \d+ tlpipe reads/,
    },
    {
      name: "a bank over the caller's bound",
      damage: () => undefined,
      message: /declares a bank of 48 bytes, more than the 40/,
      maxBytes: 40,
    },
    {
      name: 'an oversize header file',
      damage: (dir) => writeFileSync(path.join(dir, BANK_HEADER_FILE), ' '.repeat(2 * 2 ** 20)),
      message: /more than the \d+ tlpipe reads/,
    },
    {
      name: 'a data path outside the folder',
      damage: (dir) => rewriteHeader(dir, (h) => (h['data'] = '../model-0/memory-bank.bin')),
      message: /leads outside/,
    },
    {
      name: 'an absolute data path',
      damage: (dir) => rewriteHeader(dir, (h) => (h['data'] = path.join(dir, BANK_DATA_FILE))),
      message: /not a relative path inside that folder/,
    },
    {
      name: 'a data file that is a link out of the folder',
      damage: (dir) => {
        mkdirSync(path.join(root, 'elsewhere'), { recursive: true });
        writeFileSync(path.join(root, 'elsewhere', 'bank.bin'), readFileSync(path.join(dir, BANK_DATA_FILE)));
        symlinkSync(path.join(root, 'elsewhere', 'bank.bin'), path.join(dir, 'linked.bin'));
        rewriteHeader(dir, (h) => (h['data'] = 'linked.bin'));
      },
      message: /link that leads outside/,
    },
    {
      name: 'a header of the wrong shape',
      damage: (dir) => rewriteHeader(dir, (h) => (h['shape'] = [4, -3])),
      message: /is not a memory bank header/,
    },
    {
      name: 'a header that is not JSON',
      damage: (dir) => writeFileSync(path.join(dir, BANK_HEADER_FILE), '{"formatVersion": 1,'),
      message: /not valid JSON/,
    },
    {
      name: 'a normal class that is not one of its classes',
      damage: (dir) => rewriteHeader(dir, (h) => (h['classes'] = { names: ['cat', 'dog'], normal: ['cow'] })),
      message: /names `cow` as normal, but it is not one of its classes/,
    },
    {
      name: 'classes of the wrong shape',
      damage: (dir) => rewriteHeader(dir, (h) => (h['classes'] = { names: [], normal: ['cat'] })),
      message: /is not a memory bank header/,
    },
    {
      name: 'a missing data file',
      damage: (dir) => rmSync(path.join(dir, BANK_DATA_FILE)),
      message: /memory-bank\.bin is missing/,
    },
    {
      name: 'a missing header',
      damage: (dir) => rmSync(path.join(dir, BANK_HEADER_FILE)),
      message: /memory-bank\.json is missing/,
    },
  ];
  for (const c of damage) {
    it(`refuses ${c.name}`, async () => {
      const dir = await written();
      c.damage(dir);
      await rejects(dir, c.message, c.maxBytes === undefined ? undefined : { maxBytes: c.maxBytes });
    });
  }

  it('leaves no temporary file behind', async () => {
    const dir = await written();
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(readdirSync(dir).sort(), [BANK_DATA_FILE, BANK_HEADER_FILE].sort());
  });
});
