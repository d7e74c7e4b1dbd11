import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/diagnostics/diagnostic.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';

/**
 * An image-folder pipeline on a zoo base, with extra lines under `dataset:`
 * (indented by the caller) and at the top level. Line 1 is `dataset:`.
 */
const pipeline = (
  options: { source?: string; top?: string; stages?: string; freeze?: string } = {},
): string => `dataset:
  format: imageFolder
  dir: images
  classNames: [cat, dog]
${options.source ?? ''}base: { model: mobilenet_v2, cut: block_2_add }
freeze: ${options.freeze ?? 'all'}
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
${options.stages ?? '    - epochs: 1\n'}${options.top ?? ''}`;

const load = (text: string) => loadPipelineText('/work/pipelines/p.yaml', text, { displayName: 'p.yaml' });
const said = (loaded: ReturnType<typeof load>): string =>
  loaded.ok
    ? loaded.warnings.map((d) => formatDiagnostic(d)).join('\n')
    : loaded.diagnostics.map((d) => formatDiagnostic(d)).join('\n');

const FINE_TUNING = '    - { name: head, epochs: 1 }\n    - { name: all, epochs: 1, unfreeze: [all] }\n';

describe('adapt: and dataset.source: as written and resolved', () => {
  const valid: { name: string; text: string; check?: (spec: Record<string, unknown>) => void }[] = [
    {
      name: 'AdaBN on a frozen base, defaults filled in, the path made absolute',
      text: pipeline({ top: 'adapt: { images: target, method: adabn }\n' }),
      check: (spec) =>
        assert.deepEqual(spec['adapt'], {
          images: '/work/pipelines/target',
          imageColumn: 'image',
          method: 'adabn',
          weight: 1,
          limit: 2000,
          onBadFile: 'error',
        }),
    },
    {
      name: 'CORAL with a stage that unfreezes the base',
      text: pipeline({ top: 'adapt: { images: target.csv, method: coral, weight: 0.5 }\n', stages: FINE_TUNING }),
    },
    {
      name: 'DANN with the whole base unfrozen from the start',
      text: pipeline({ top: 'adapt: { images: target, method: dann }\n', freeze: 'none' }),
    },
    {
      name: 'an idx source at the pipeline image size, weighted and decayed',
      text: pipeline({
        source:
          '  source:\n    format: idx\n    train: { images: s-images.gz, labels: s-labels.gz }\n    weight: 0.3\n    decay: 0.9\n',
      }),
      check: (spec) => {
        const source = spec['source'] as { dataset: Record<string, unknown>; weight: number; decay: number };
        assert.equal(source.weight, 0.3);
        assert.equal(source.decay, 0.9);
        assert.equal(source.dataset['format'], 'idx');
        assert.equal(source.dataset['validation'], 0, 'a source has no validation split of its own');
        assert.deepEqual(source.dataset['train'], {
          images: '/work/pipelines/s-images.gz',
          labels: '/work/pipelines/s-labels.gz',
        });
        assert.deepEqual((source.dataset['image'] as { size: number[] }).size, [96, 96]);
      },
    },
    {
      name: 'a csv source with a weight column and a label map',
      text: pipeline({
        source: '  source:\n    format: csv\n    file: more.csv\n    weightColumn: w\n    labelMap: { kitten: cat }\n',
      }),
      check: (spec) => {
        const source = spec['source'] as { weightColumn: string; labelMap: object; weight: number; decay: number };
        assert.equal(source.weightColumn, 'w');
        assert.deepEqual(source.labelMap, { kitten: 'cat' });
        assert.equal(source.weight, 1);
        assert.equal(source.decay, 1);
      },
    },
  ];
  for (const c of valid)
    it(`valid: ${c.name}`, () => {
      const loaded = load(c.text);
      assert.ok(loaded.ok, said(loaded));
      c.check?.(loaded.value.spec as unknown as Record<string, unknown>);
    });

  const invalid: { name: string; text: string; message: RegExp; line: number }[] = [
    {
      name: 'CORAL when every stage keeps the base frozen',
      text: pipeline({ top: 'adapt: { images: target, method: coral }\n' }),
      message:
        /aligns the base's features by training base layers, and every stage of this pipeline keeps the base frozen/,
      line: 13,
    },
    {
      name: 'an adaptation method tlpipe does not have',
      text: pipeline({ top: 'adapt: { images: target, method: mmd }\n' }),
      message: /adabn|coral|dann/,
      line: 13,
    },
    {
      name: 'adapt without its images',
      text: pipeline({ top: 'adapt: { method: adabn }\n' }),
      message: /images/,
      line: 13,
    },
    {
      name: 'adapt on a base-less pipeline',
      text: pipeline({ top: 'adapt: { images: target, method: adabn }\n' }).replace(
        'base: { model: mobilenet_v2, cut: block_2_add }',
        'base: { model: none }',
      ),
      message: /`base.model: none`/,
      line: 13,
    },
    {
      name: 'a source with a test split of its own',
      text: pipeline({ source: '  source:\n    format: imageFolder\n    dir: more\n    testDir: more-test\n' }),
      message: /a source only trains/,
      line: 8,
    },
    {
      name: 'an imageFolder source without its folder',
      text: pipeline({ source: '  source:\n    format: imageFolder\n    weight: 0.5\n' }),
      message: /a source of format `imageFolder` needs `dir`/,
      line: 6,
    },
    {
      name: "a key of another format in the source (csv's file under imageFolder)",
      text: pipeline({ source: '  source:\n    format: imageFolder\n    dir: more\n    file: x.csv\n' }),
      message: /`file` is not used by format `imageFolder`/,
      line: 8,
    },
    {
      name: 'a weight column on a source that is not a CSV',
      text: pipeline({ source: '  source:\n    format: imageFolder\n    dir: more\n    weightColumn: w\n' }),
      message: /weightColumn is a CSV column, and this source's format is imageFolder/,
      line: 8,
    },
    {
      name: 'a source of masks beside classification',
      text: pipeline({
        source: '  source:\n    format: segmentationFolder\n    images: im\n    masks: ma\n    classes: [a, b]\n',
      }),
      message: /segmentationFolder holds masks/,
      line: 6,
    },
    {
      name: 'a negative source weight',
      text: pipeline({ source: '  source:\n    format: mnist\n    weight: -1\n' }),
      message: /weight/,
      line: 7,
    },
    {
      name: 'a decay of 0 (the source would weigh nothing after one epoch)',
      text: pipeline({ source: '  source:\n    format: mnist\n    decay: 0\n' }),
      message: /decay/,
      line: 7,
    },
    {
      name: 'adapt on an anomaly-detection pipeline',
      text: `task: anomaly
dataset: { format: imageFolder, dir: images, classNames: [good, bad] }
anomaly: { normal: [good] }
adapt: { images: target, method: adabn }
`,
      message: /`adapt` is for classification; this pipeline's task is anomaly/,
      line: 4,
    },
  ];
  for (const c of invalid)
    it(`invalid: ${c.name}`, () => {
      const loaded = load(c.text);
      assert.equal(loaded.ok, false, 'loaded');
      assert.match(said(loaded), c.message);
      assert.ok(!loaded.ok && loaded.diagnostics.some((d) => d.line === c.line), said(loaded));
    });
});
