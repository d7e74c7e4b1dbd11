import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { relativePath, withRelativePaths } from '../../src/store/relative-paths.js';

const base = path.resolve('/work/pipelines');

describe('paths as a run folder keeps them', () => {
  const cases: { name: string; file: string; kept: string }[] = [
    {
      name: "a file under the pipeline's folder",
      file: path.join(base, 'digits', 'zero', '51.png'),
      kept: 'digits/zero/51.png',
    },
    { name: 'a relative path stays as the pipeline wrote it', file: 'digits/one/2.png', kept: 'digits/one/2.png' },
    { name: 'the folder itself', file: base, kept: '.' },
    { name: 'a file beside the folder', file: path.resolve('/work/data/x.png'), kept: '../data/x.png' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(relativePath(c.file, base), c.kept));

  const messages: { name: string; text: string; said: string }[] = [
    {
      name: 'every path under the folder in a message',
      text: `cannot decode ${base}/a.png or ${base}/b/c.png`,
      said: 'cannot decode a.png or b/c.png',
    },
    { name: 'a folder that only starts the same is left alone', text: `${base}-old/a.png`, said: `${base}-old/a.png` },
    { name: 'a message without paths is unchanged', text: 'truncated JPEG', said: 'truncated JPEG' },
  ];
  for (const c of messages) it(c.name, () => assert.equal(withRelativePaths(c.text, base), c.said));
});
