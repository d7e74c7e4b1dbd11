import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import type { ExampleGallery } from '../../src/engine/evaluate/example-gallery.js';
import { GALLERY_FILE, readGallery, writeGallery } from '../../src/store/gallery-file.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-gallery-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const folder = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  return dir;
};

const pipelineDir = path.join(root, 'pipelines');
const image = (name: string, heat: boolean) => ({
  example: path.join(pipelineDir, 'digits', name),
  actual: 'one',
  predicted: 'seven',
  probabilityOfActual: 0.1,
  probabilityOfPredicted: 0.9,
  png: Uint8Array.from([137, 80, 78, 71]),
  ...(heat ? { heat: { predicted: Uint8Array.from([1, 2]), actual: Uint8Array.from([3]) } } : {}),
});
const gallery: ExampleGallery = {
  layer: 'block_3_expand_relu',
  worst: [image('a.png', true)],
  perClass: [{ name: 'one', examples: [image('b.png', false)] }],
};

describe("examples.json: the report's images", () => {
  it("each PNG as base64, each example relative to the pipeline's folder, read back as written", async () => {
    const dir = folder();
    await writeGallery(dir, gallery, pipelineDir);
    const read = await readGallery(dir);
    assert.deepEqual(read, {
      layer: 'block_3_expand_relu',
      worst: [
        {
          example: 'digits/a.png',
          actual: 'one',
          predicted: 'seven',
          probabilityOfActual: 0.1,
          probabilityOfPredicted: 0.9,
          png: 'iVBORw==',
          heat: { predicted: 'AQI=', actual: 'Aw==' },
        },
      ],
      perClass: [
        {
          name: 'one',
          examples: [
            {
              example: 'digits/b.png',
              actual: 'one',
              predicted: 'seven',
              probabilityOfActual: 0.1,
              probabilityOfPredicted: 0.9,
              png: 'iVBORw==',
            },
          ],
        },
      ],
    });
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, GALLERY_FILE), 'utf8')), read);
  });

  it('a run without one (no test split, tabular data) has none', async () =>
    assert.equal(await readGallery(folder()), undefined));

  const damaged: { name: string; make: (file: string) => void; problem: RegExp }[] = [
    { name: 'not JSON', make: (f) => writeFileSync(f, '{"worst": ['), problem: /examples\.json is not valid JSON$/ },
    {
      name: 'a list',
      make: (f) => writeFileSync(f, '[]'),
      problem: /examples\.json is not a gallery of example images .*: the whole file must be object/,
    },
    {
      name: "markup where a PNG's base64 goes",
      make: (f) =>
        writeFileSync(
          f,
          JSON.stringify({
            worst: [{ ...JSON.parse(JSON.stringify(image('a.png', false))), png: '"><script>alert(1)</script>' }],
            perClass: [],
          }),
        ),
      problem: /\/worst\/0\/png must match pattern/,
    },
    {
      name: 'a probability that is a string',
      make: (f) =>
        writeFileSync(
          f,
          JSON.stringify({
            worst: [],
            perClass: [
              {
                name: 'one',
                examples: [
                  {
                    example: 'a',
                    actual: 'one',
                    predicted: 'one',
                    probabilityOfActual: 'high',
                    probabilityOfPredicted: null,
                    png: '',
                  },
                ],
              },
            ],
          }),
        ),
      problem: /\/perClass\/0\/examples\/0\/probabilityOfActual must be number/,
    },
    {
      name: 'a FIFO',
      make: (f) => execFileSync('mkfifo', [f]),
      problem: /examples\.json is a named pipe \(FIFO\), not a file$/,
    },
  ];
  for (const c of damaged) {
    it(`${c.name}: a user error naming it, and how to rebuild the report without it`, async () => {
      const dir = folder();
      c.make(path.join(dir, GALLERY_FILE));
      await assert.rejects(
        readGallery(dir),
        (error: unknown) =>
          error instanceof UserError &&
          c.problem.test(error.message) &&
          error.hint ===
            `examples.json was damaged or edited by hand; remove it (rm ${path.join(dir, GALLERY_FILE)}) to rebuild the report without its images`,
      );
    });
  }
});
