import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import { tinyPipeline, tlpipe, workspace, write } from '../e2e/cli-harness.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/render-font-digits.js', import.meta.url));
const FAMILIES = ['DejaVu Sans', 'DejaVu Serif', 'Liberation Sans', 'Liberation Mono'];

/** Why the fonts cannot be drawn here, or false; CI installs them (.ci/run), and there the tests must run. */
function fontsMissing(): string | false {
  let missing: string | false = false;
  try {
    const listed = execFileSync('fc-list', ['--format', '%{family}\n'], { encoding: 'utf8', timeout: 60_000 });
    const absent = FAMILIES.filter((family) => !listed.includes(family));
    if (absent.length > 0)
      missing = `fontconfig lacks ${absent.join(', ')} (Debian: fonts-dejavu-core fonts-liberation)`;
  } catch {
    missing = 'fc-list is not installed (Debian: fontconfig)';
  }
  if (missing && process.env['TLPIPE_REQUIRE_FONTS'] === '1') throw new Error(missing);
  return missing;
}

/** Every file of a folder tree, relative path → sha256. */
const digestsOf = (dir: string): Record<string, string> =>
  Object.fromEntries(
    (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.includes('.'))
      .sort()
      .map((f) => [
        f,
        createHash('sha256')
          .update(readFileSync(path.join(dir, f)))
          .digest('hex'),
      ]),
  );

const readIdx = (file: string) => parseIdx(gunzipSync(readFileSync(file)));

const render = (out: string, ...args: string[]) => run(process.execPath, [SCRIPT, out, ...args]);

describe('render-font-digits: MNIST-like digits from the system fonts', () => {
  it('the same options write the same bytes; labels, shape and faces as asked', { timeout: 120_000 }, async (t) => {
    const missing = fontsMissing();
    if (missing) return t.skip(missing);
    const dir = workspace('font-digits');
    const options = ['--count', '3', '--seed', '7', '--fonts', FAMILIES.join(','), '--png'];
    await render(path.join(dir, 'a'), ...options);
    await render(path.join(dir, 'b'), ...options);
    const a = digestsOf(path.join(dir, 'a'));
    assert.deepEqual(a, digestsOf(path.join(dir, 'b')));
    assert.equal(Object.keys(a).filter((f) => f.endsWith('.png')).length, 30);

    const images = readIdx(path.join(dir, 'a', 'images-idx3-ubyte.gz'));
    const labels = readIdx(path.join(dir, 'a', 'labels-idx1-ubyte.gz'));
    assert.deepEqual(images.shape, [30, 28, 28]);
    assert.deepEqual(
      [...labels.data],
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(
      readFileSync(path.join(dir, 'a', 'faces.txt'), 'utf8')
        .trim()
        .split('\n'),
      FAMILIES,
    );
    for (let i = 0; i < 30; i++) {
      const image = images.data.subarray(i * 784, (i + 1) * 784);
      // White on black, MNIST's way: the border rows are dark, and there is ink.
      assert.ok(
        image.some((v) => v > 200),
        `image ${i} has ink`,
      );
      assert.ok(
        image.subarray(0, 28).every((v) => v < 64) || image.subarray(756).every((v) => v < 64),
        `image ${i}: a dark edge`,
      );
    }

    await render(path.join(dir, 'c'), '--count', '3', '--seed', '8', '--fonts', FAMILIES.join(','));
    assert.notEqual(
      digestsOf(path.join(dir, 'c'))['images-idx3-ubyte.gz'],
      a['images-idx3-ubyte.gz'],
      'another seed draws other offsets and rotations',
    );
  });

  it('the same digit in different fonts differs, unmoved and unrotated', { timeout: 120_000 }, async (t) => {
    const missing = fontsMissing();
    if (missing) return t.skip(missing);
    const out = path.join(workspace('font-digits'), 'out');
    const still = ['--offset', '0', '--rotate', '0', '--stroke', '0'];
    await render(out, '--count', '2', '--fonts', 'DejaVu Sans,Liberation Serif:italic', ...still);
    const images = readIdx(path.join(out, 'images-idx3-ubyte.gz')).data;
    // The n-th image of digit d has face (n + d) mod 2: images d and 10 + d are the two faces' d.
    for (let digit = 0; digit < 10; digit++) {
      const [first, second] = [digit, 10 + digit].map((i) => images.subarray(i * 784, (i + 1) * 784));
      const differing = first!.filter((v, p) => Math.abs(v - second![p]!) > 64).length;
      assert.ok(differing >= 20, `digit ${digit}: the two faces differ in ${differing} pixels`);
    }
  });

  it('tlpipe reads the rendered set as `format: idx`', { timeout: 120_000 }, async (t) => {
    const missing = fontsMissing();
    if (missing) return t.skip(missing);
    const dir = workspace('font-digits');
    await render(path.join(dir, 'fonts'), '--count', '4', '--seed', '3');
    write(
      dir,
      'fonts.yaml',
      tinyPipeline(
        'fonts',
        '{ format: idx, train: { images: fonts/images-idx3-ubyte.gz, labels: fonts/labels-idx1-ubyte.gz }, validation: 0, image: { size: [32, 32] } }',
      ),
    );
    const result = await tlpipe(['data', 'fonts.yaml', '--json'], dir);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as {
      classNames: string[];
      counts: { train: number[] };
      sourceSize: { width: { min: number; max: number }; examples: number };
    };
    assert.deepEqual(report.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(report.counts.train, new Array(10).fill(4));
    assert.deepEqual(
      [report.sourceSize.width.min, report.sourceSize.width.max, report.sourceSize.examples],
      [28, 28, 40],
    );
  });

  const refusals: { name: string; args: string[]; message: RegExp; needsFonts: boolean }[] = [
    {
      name: 'a face written wrong',
      args: ['--fonts', 'DejaVu Sans:heavy'],
      message: /font face 'DejaVu Sans:heavy': expected family\[:bold\]\[:italic\]/,
      needsFonts: false,
    },
    {
      name: 'only fonts that are not installed',
      args: ['--fonts', 'No Such Font Family,Another Missing:bold'],
      message:
        /left out No Such Font Family: fontconfig does not list[\s\S]*none of the requested fonts can be drawn here/,
      needsFonts: true,
    },
    { name: 'a count of 0', args: ['--count', '0'], message: /usage: render-font-digits OUT/, needsFonts: false },
  ];
  for (const refusal of refusals)
    it(`refuses ${refusal.name}, with a message and exit code 2`, { timeout: 120_000 }, async (t) => {
      if (refusal.needsFonts) {
        const missing = fontsMissing();
        if (missing) return t.skip(missing);
      }
      const out = path.join(workspace('font-digits'), 'out');
      await assert.rejects(render(out, ...refusal.args), (error: Error & { code: number; stderr: string }) => {
        assert.equal(error.code, 2);
        assert.match(error.stderr, refusal.message);
        assert.doesNotMatch(error.stderr, /^\s+at /m);
        return true;
      });
    });
});
