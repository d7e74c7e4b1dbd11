import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelDescription } from '../../src/serve/served-answers.js';
import { imageModel as imageDescription, tabularModel as tabularDescription } from './model-descriptions.js';
import { allowedFile, base64Bytes, checkInstances, type RequestInstance } from '../../src/serve/served-inputs.js';

const imageModel = imageDescription(['daisy', 'rose']);
const tabularModel = tabularDescription(['setosa', 'virginica'], ['petal', 'sepal']);

describe('base64Bytes', () => {
  const accepted: { name: string; text: string; bytes: string }[] = [
    { name: 'padded base64', text: Buffer.from('hello').toString('base64'), bytes: 'hello' },
    { name: 'base64 without padding', text: 'aGVsbG8', bytes: 'hello' },
    { name: 'base64 broken into lines (MIME)', text: 'aGVs\nbG8=\n', bytes: 'hello' },
    { name: 'base64 broken by CRLF', text: 'aGVs\r\nbG8=\r\n', bytes: 'hello' },
    { name: 'every byte value', text: Buffer.from([0, 1, 254, 255]).toString('base64'), bytes: '\x00\x01\xfe\xff' },
    { name: 'no text: no bytes (the decoder then says the image is empty)', text: '', bytes: '' },
  ];
  for (const c of accepted)
    it(`accepts ${c.name}`, () => {
      const bytes = base64Bytes(c.text);
      assert.ok(bytes, `refused ${JSON.stringify(c.text)}`);
      assert.deepEqual(Buffer.from(bytes), Buffer.from(c.bytes, 'latin1'));
    });

  const refused: { name: string; text: string }[] = [
    { name: 'a data URL (the prefix is not base64)', text: 'data:image/png;base64,aGVsbG8=' },
    { name: 'text with spaces', text: 'aGVs bG8=' },
    { name: 'URL-safe base64 (- and _)', text: 'a-_sbG8=' },
    { name: 'a stray character at the end', text: 'aGVsbG8=!' },
    { name: 'padding in the middle', text: 'aG=VsbG8' },
    { name: 'three padding characters', text: 'aGVsbG===' },
    { name: 'a Windows path', text: 'C:\\images\\a.png' },
    { name: 'JSON', text: '{"b64":"aGVsbG8="}' },
  ];
  for (const c of refused) it(`refuses ${c.name}`, () => assert.equal(base64Bytes(c.text), undefined));

  it('refuses a long run of line breaks with a stray character in linear time, not by backtracking', () => {
    // A pattern whose two parts both take line breaks tries every split of the run: 40 000 took 2 s, a 32 MB body hours.
    const text = '\n'.repeat(100_000) + '!';
    const started = performance.now();
    assert.equal(base64Bytes(text), undefined);
    const ms = performance.now() - started;
    assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
  });
});

describe('allowedFile and {"path"} instances: confined to the allowed folder', () => {
  let base: string;
  let root: string;
  const png = Buffer.from('not really a png, but bytes to read back');
  before(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'tlpipe-served-inputs-')));
    root = path.join(base, 'allowed');
    await mkdir(path.join(root, 'sub'), { recursive: true });
    await mkdir(path.join(base, 'outside'));
    await writeFile(path.join(root, 'a.png'), png);
    await writeFile(path.join(root, '..dots.png'), png);
    await writeFile(path.join(root, 'sub', 'b.png'), png);
    await writeFile(path.join(base, 'outside', 'secret.png'), png);
    await writeFile(path.join(base, 'allowed-sibling.png'), png);
    await symlink(path.join('sub', 'b.png'), path.join(root, 'link-in.png'));
    await symlink(path.join(base, 'outside', 'secret.png'), path.join(root, 'link-out.png'));
    await symlink(path.join('..', 'outside'), path.join(root, 'folder-out'));
    await symlink(path.join(root, 'sub'), path.join(root, 'folder-in'));
    await symlink('missing.png', path.join(root, 'dangling.png'));
  });
  after(() => rm(base, { recursive: true, force: true }));

  const cases: { name: string; given: () => string; file?: string; error?: RegExp }[] = [
    { name: 'a file in the folder', given: () => 'a.png', file: 'a.png' },
    { name: 'a file in a subfolder', given: () => 'sub/b.png', file: 'sub/b.png' },
    { name: "a '..' that stays inside", given: () => 'sub/../a.png', file: 'a.png' },
    { name: "a file whose name begins with '..'", given: () => '..dots.png', file: '..dots.png' },
    { name: 'a link inside pointing inside (the file it points to)', given: () => 'link-in.png', file: 'sub/b.png' },
    { name: 'a file through a linked folder inside', given: () => 'folder-in/b.png', file: 'sub/b.png' },
    { name: '../x', given: () => '../outside/secret.png', error: /is outside the allowed folder/ },
    { name: 'a/../../x', given: () => 'a/../../outside/secret.png', error: /is outside the allowed folder/ },
    { name: 'a sibling whose name starts like the folder', given: () => '../allowed-sibling.png', error: /outside/ },
    { name: 'a link inside pointing outside', given: () => 'link-out.png', error: /is outside the allowed folder/ },
    { name: 'a file through a linked folder that leads out', given: () => 'folder-out/secret.png', error: /outside/ },
    { name: 'an absolute path, even to a file inside', given: () => path.join(root, 'a.png'), error: /not relative/ },
    { name: 'an absolute path outside', given: () => '/etc/passwd', error: /not relative/ },
    { name: 'a NUL byte', given: () => 'a.png\0.txt', error: /not relative/ },
    { name: 'a Windows drive path', given: () => 'C:\\Windows\\win.ini', error: /not relative/ },
    { name: 'a Windows drive path with slashes', given: () => 'C:/Windows/win.ini', error: /not relative/ },
    { name: 'a Windows UNC path', given: () => '\\\\server\\share\\x.png', error: /not relative/ },
    { name: 'a file that does not exist', given: () => 'nope.png', error: /not found in the allowed folder/ },
    { name: 'a link to a file that does not exist', given: () => 'dangling.png', error: /not found/ },
    { name: 'the folder itself (.)', given: () => '.', error: /outside the allowed folder/ },
    { name: 'the folder itself (sub/..)', given: () => 'sub/..', error: /outside the allowed folder/ },
  ];
  for (const c of cases)
    it(`${c.file ? 'allows' : 'refuses'} ${c.name}`, async () => {
      const found = await allowedFile(root, c.given());
      if (c.file) assert.deepEqual(found, { path: path.join(root, c.file) });
      else {
        assert.ok('error' in found, `allowed: ${JSON.stringify(found)}`);
        assert.match(found.error, c.error!);
        if (!c.given().includes(base))
          assert.ok(!found.error.includes(base), `the error names the server's folders: ${found.error}`);
      }
    });

  it('a root given through a link is compared as the folder it is', async () => {
    const linkedRoot = path.join(base, 'root-link');
    await symlink(root, linkedRoot);
    assert.deepEqual(await allowedFile(linkedRoot, 'link-in.png'), { path: path.join(root, 'sub', 'b.png') });
    assert.match(((await allowedFile(linkedRoot, 'link-out.png')) as { error: string }).error, /outside/);
  });

  it('{"path"} instances read the allowed file, and the errors name the path as given, not where it is', async () => {
    const checked = await checkInstances(
      [{ path: 'link-in.png' }, { path: '../outside/secret.png' }, { path: 'sub' }, { path: 'nope.png' }],
      imageModel,
      root,
      2 ** 20,
    );
    assert.deepEqual(checked[0], { kind: 'image', name: 'link-in.png', bytes: png });
    assert.match((checked[1] as { error: string }).error, /outside the allowed folder/);
    assert.match((checked[2] as { error: string }).error, /sub is a folder/);
    assert.match((checked[3] as { error: string }).error, /not found/);
    for (const c of checked.slice(1))
      assert.ok(!(c as { error: string }).error.includes(base), `names the server's folders: ${JSON.stringify(c)}`);
  });

  it('a file named by path is held to the body limit, as an upload of it would be', async () => {
    const [over] = await checkInstances([{ path: 'link-in.png' }], imageModel, root, png.length - 1);
    assert.match(
      (over as { error: string }).error,
      new RegExp(`link-in.png is ${png.length} bytes, over what is left of the ${png.length - 1}`),
    );
    const [first, second] = await checkInstances(
      [{ path: 'link-in.png' }, { path: 'link-in.png' }],
      imageModel,
      root,
      png.length * 2 - 1,
    );
    assert.ok(!('error' in first!), 'the first file fits');
    assert.match((second as { error: string }).error, /over what is left/, 'files count together against the limit');
    const [within] = await checkInstances([{ path: 'link-in.png' }], imageModel, root, png.length);
    assert.deepEqual(within, { kind: 'image', name: 'link-in.png', bytes: png });
  });
});

describe('checkInstances: instances as the model takes them', () => {
  const b64 = Buffer.from('image bytes').toString('base64');
  const cases: {
    name: string;
    model: ModelDescription;
    instances: RequestInstance[];
    allowFiles?: string;
    checked: ({ kind: string; name: string } | RegExp)[];
  }[] = [
    {
      name: 'an image model takes base64 images, named by their name or their place',
      model: imageModel,
      instances: [{ b64 }, { b64, name: 'rose.jpg' }],
      checked: [
        { kind: 'image', name: 'instance 0' },
        { kind: 'image', name: 'rose.jpg' },
      ],
    },
    {
      name: 'an image model refuses text that is not base64, and only that instance',
      model: imageModel,
      instances: [{ b64: 'not base64!' }, { b64 }],
      checked: [/b64 is not base64 text/, { kind: 'image', name: 'instance 1' }],
    },
    {
      name: 'an image model refuses rows, by columns or as a list',
      model: imageModel,
      instances: [{ petal: 1, sepal: 2 }, [1, 2]],
      checked: [/an image model takes \{"b64"/, /an image model takes \{"b64"/],
    },
    {
      name: 'a tabular model takes rows by column or in column order',
      model: tabularModel,
      instances: [{ petal: 1.5, sepal: 2 }, [3, 4]],
      checked: [
        { kind: 'row', name: 'instance 0' },
        { kind: 'row', name: 'instance 1' },
      ],
    },
    {
      name: 'a tabular model refuses images, base64 or by path',
      model: tabularModel,
      instances: [{ b64 }, { path: 'a.png' }],
      allowFiles: os.tmpdir(),
      checked: [/takes table rows, not images/, /takes table rows, not images/],
    },
    {
      name: 'without --allow-files a path is refused, with the ways that work',
      model: imageModel,
      instances: [{ path: 'a.png' }, { path: '/etc/passwd' }],
      checked: [/reads no file by path.*\{"b64": …\}.*multipart.*--allow-files <folder>/, /reads no file by path/],
    },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const checked = await checkInstances(c.instances, c.model, c.allowFiles, 2 ** 20);
      assert.equal(checked.length, c.checked.length);
      checked.forEach((got, i) => {
        const want = c.checked[i]!;
        if (want instanceof RegExp) {
          assert.ok('error' in got, `instance ${i} was taken: ${JSON.stringify(got)}`);
          assert.match(got.error, want);
        } else {
          assert.ok(!('error' in got), `instance ${i}: ${JSON.stringify(got)}`);
          assert.equal(got.kind, want.kind);
          assert.equal(got.name, want.name);
        }
      });
    });

  it('a base64 image arrives as its bytes, a row as its values', async () => {
    const [image] = await checkInstances([{ b64 }], imageModel, undefined, 2 ** 20);
    assert.deepEqual(image, { kind: 'image', name: 'instance 0', bytes: Buffer.from('image bytes') });
    const rows = await checkInstances([{ sepal: 2, petal: 1 }, [5, 6]], tabularModel, undefined, 2 ** 20);
    assert.deepEqual(rows, [
      { kind: 'row', name: 'instance 0', values: { sepal: 2, petal: 1 } },
      { kind: 'row', name: 'instance 1', values: [5, 6] },
    ]);
  });
});
