import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/package/package-root.js';
import { blockProblems, linkProblem, markdownFiles, readDocs, readMarkdown, type CodeBlock } from './doc-blocks.js';

const root = packageRoot();
const MINIMAL_PIPELINE = `name: a
dataset: { format: mnist }
base: { model: mobilenet_v2 }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages: [{ epochs: 1 }]
`;
const block = (info: string, text: string): CodeBlock => ({ file: 'docs/example.md', line: 1, info, text });

describe('the checks the docs get (each can fail)', () => {
  const cases: { name: string; block: CodeBlock; fails: RegExp | false }[] = [
    { name: 'a whole pipeline validates', block: block('yaml', MINIMAL_PIPELINE), fails: false },
    {
      name: 'a pipeline with a misspelt key',
      block: block('yaml', 'name: a\nbase: { modle: mobilenet_v2 }\n'),
      fails: /modle/,
    },
    {
      name: 'a fragment merged into the quickstart',
      block: block('yaml fragment', 'train:\n  batchSize: 16\n'),
      fails: false,
    },
    {
      name: 'a fragment with a value out of range',
      block: block('yaml fragment', 'train:\n  batchSize: 0\n'),
      fails: /batchSize/,
    },
    {
      name: 'a fragment on another base',
      block: block('yaml fragment base=pipelines/segmentation-digits.yaml', 'train:\n  batchSize: 8\n'),
      fails: false,
    },
    {
      name: 'a fragment on a base that is not there',
      block: block('yaml fragment base=pipelines/none.yaml', 'seed: 1\n'),
      fails: /does not read/,
    },
    {
      name: 'a tlpipe command that parses',
      block: block('sh', 'npx tlpipe run pipeline.yaml --set train.stages[0].epochs=3 --no-cache\n'),
      fails: false,
    },
    {
      name: 'an unknown option',
      block: block('sh', 'tlpipe run pipeline.yaml --epochs 3\n'),
      fails: /unknown option '--epochs'/,
    },
    {
      name: 'an unknown command',
      block: block('bash', 'tlpipe trian pipeline.yaml\n'),
      fails: /unknown command 'trian'/,
    },
    { name: 'a missing argument', block: block('sh', 'tlpipe predict\n'), fails: /missing required argument/ },
    { name: 'a value outside the choices', block: block('sh', 'tlpipe run p.yaml --backend gpu\n'), fails: /gpu/ },
    {
      name: 'a command after && and a continued line',
      block: block('sh', 'npm install && \\\n  tlpipe run p.yaml --bogus\n'),
      fails: /--bogus/,
    },
    {
      name: 'an unknown TLPIPE_ variable',
      block: block('sh', 'TLPIPE_WORKRS=2 tlpipe serve runs/a/0001\n'),
      fails: /TLPIPE_WORKRS/,
    },
    {
      name: 'a known TLPIPE_ variable',
      block: block('sh', 'TLPIPE_WORKERS=2 tlpipe serve runs/a/0001 | cat\n'),
      fails: false,
    },
    {
      name: 'a placeholder in angle brackets is not a command',
      block: block('sh', 'git clone <repository-url> tlpipe && cd tlpipe\nnpm test > log.txt 2>&1\n'),
      fails: false,
    },
    {
      name: 'an npm script that is not there',
      block: block('sh', 'npm run docs:nothing\n'),
      fails: /no script "docs:nothing"/,
    },
    {
      name: 'console: output lines are not commands',
      block: block('console', '$ tlpipe runs\ntlpipe gives this line\n'),
      fails: false,
    },
    {
      name: 'console: a prompt line is checked',
      block: block('console', '$ tlpipe runs --colour\n'),
      fails: /--colour/,
    },
    { name: 'a block that does not say what it is', block: block('', 'anything\n'), fails: /says what it holds/ },
    { name: 'an info string not in the list', block: block('python', 'print(1)\n'), fails: /says what it holds/ },
  ];
  for (const c of cases)
    it(c.name, async () => {
      const problems = await blockProblems(c.block, root);
      if (c.fails === false) assert.deepEqual(problems, []);
      else assert.match(problems.join('\n'), c.fails);
    });

  it('a relative link to a file or a heading that is not there fails; web links and what is there pass', () => {
    const page = readMarkdown(
      'docs/guides/x.md',
      [
        '# Top',
        '## `tlpipe run` options',
        '[a](../reference/none.md) [b](https://example.org/) [c](#top) [d](../../README.md#tlpipe)',
        '![e](../images/none.png) [f](#tlpipe-run-options) [g](#bottom) [h](../reference/cli.md#tlpipe-serve)',
        '[i](../reference/cli.md#tlpipe-serv) [j](../images/report.png)',
      ].join('\n\n'),
    );
    assert.deepEqual(page.anchors, ['top', 'tlpipe-run-options']);
    const { anchors } = readDocs(root);
    const problems = page.links.map((link) =>
      linkProblem(
        link,
        (file) => file === 'docs/guides/x.md' || existsSync(path.join(root, file)),
        (file) => (file === 'docs/guides/x.md' ? page.anchors : anchors.get(file)),
      ),
    );
    assert.deepEqual(
      problems.map((p) => p !== undefined),
      [true, false, false, false, true, false, true, false, true, false],
    );
  });
});

describe('the examples in README.md and docs/', () => {
  const { blocks, links, anchors } = readDocs(root);

  it('there are docs to check: README.md and a guide per topic', () => {
    const files = markdownFiles(root);
    assert.ok(files.length > 10, files.join(', '));
    assert.ok(blocks.filter((b) => b.info.startsWith('yaml')).length > 10);
  });

  for (const b of blocks)
    it(`${b.file}:${b.line} ${b.info || '(no info string)'}`, async () => {
      assert.deepEqual(await blockProblems(b, root), []);
    });

  it('every relative link points to a file of the package, and to a heading of it where it names one', () => {
    const problems = links.flatMap((link) => {
      const problem = linkProblem(
        link,
        (file) => existsSync(path.join(root, file)),
        (file) => anchors.get(file),
      );
      return problem === undefined ? [] : [`${link.file}:${link.line}: ${problem}`];
    });
    assert.deepEqual(problems, []);
  });
});
