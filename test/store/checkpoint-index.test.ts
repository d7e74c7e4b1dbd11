import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { CheckpointIndex } from '../../src/engine/train/checkpoints.js';
import { CHECKPOINT_INDEX, readCheckpointIndex, writeCheckpointIndex } from '../../src/store/checkpoint-index.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-checkpoint-index-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const folder = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  return dir;
};

const entry = (epoch: number) => ({ dir: `checkpoints/epoch-${String(epoch).padStart(3, '0')}`, epoch, stage: 'head' });
const index = {
  formatVersion: 1,
  latest: entry(2),
  best: { ...entry(1), monitor: 'val_loss', value: 0.5 },
  stageBest: null,
  kept: [entry(1), entry(2)],
} as unknown as CheckpointIndex;

describe('checkpoints/index.json as a resume finds it', () => {
  it('reads back as written', async () => {
    const dir = folder();
    await writeCheckpointIndex(dir, index);
    assert.deepEqual(await readCheckpointIndex(dir), { index });
  });

  it('a run without checkpoints yet has no index and no problem', async () =>
    assert.deepEqual(await readCheckpointIndex(folder()), {}));

  const damaged: { name: string; make: (file: string) => void; problem: RegExp }[] = [
    {
      name: 'not JSON',
      make: (f) => writeFileSync(f, '{"formatVersion": 1, "lat'),
      problem: /^checkpoint index .*index\.json is not valid JSON$/,
    },
    {
      name: 'a folder outside the run',
      make: (f) => writeFileSync(f, JSON.stringify({ ...index, latest: { ...entry(2), dir: '../../elsewhere' } })),
      problem: /index\.json is damaged: latest\.dir is "\.\.\/\.\.\/elsewhere", not checkpoints\/epoch-002/,
    },
    {
      name: 'a latest that is not kept',
      make: (f) => writeFileSync(f, JSON.stringify({ ...index, kept: [entry(1)] })),
      problem: /is damaged: latest is not among the kept checkpoints/,
    },
    {
      name: 'an index bigger than any tlpipe writes',
      make: (f) => writeFileSync(f, `{"formatVersion":1,"pad":"${'x'.repeat(2 ** 20)}"}`),
      problem: /index\.json is \d+ bytes, more than the 1048576 tlpipe reads of it/,
    },
    {
      name: 'a link to /dev/zero',
      make: (f) => symlinkSync('/dev/zero', f),
      problem: /index\.json is a link that leads outside .* \(to \/dev\/zero\)/,
    },
  ];
  for (const c of damaged) {
    it(`${c.name}: a problem to rebuild it from, not an index`, async () => {
      const dir = folder();
      c.make(path.join(dir, CHECKPOINT_INDEX));
      const read = await readCheckpointIndex(dir);
      assert.equal(read.index, undefined);
      assert.match(read.problem ?? 'no problem', c.problem);
    });
  }
});
