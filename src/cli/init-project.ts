import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SCHEMA_PATH } from '../package/package-root.js';

/**
 * Keeps the small run records in git (what a reviewer reads) and leaves out
 * what is large or rebuilt: checkpoints, exported weights, caches, locks.
 */
export const GITIGNORE = `# tlpipe: run records go in git; weights, checkpoints and caches do not.
runs/**
!runs/**/
!runs/**/run.json
!runs/**/metrics.jsonl
!runs/**/summary.json
!runs/**/report.html
!runs/**/pipeline.yaml
runs/.cache/
runs/*/.ids/
node_modules/
`;

/** A pipeline that runs as it is (offline MNIST, pretrained MobileNetV2), with the schema modeline for editors. */
export function starterPipeline(schemaPath: string, name: string): string {
  return `# yaml-language-server: $schema=${schemaPath}
#
# A transfer-learning pipeline: \`tlpipe run ${name}.yaml\`, or \`tlpipe watch ${name}.yaml\`
# to re-run on every save. \`tlpipe plan ${name}.yaml\` shows what will run.
name: ${name}
seed: 42
dataset:
  format: mnist                 # or: imageFolder with dir: data/<class>/<images>
  limit: { perClass: 100, testPerClass: 50 }
  validation: 0.1
  image: { size: [64, 64] }
base:
  model: mobilenet_v2           # \`tlpipe models\` lists the zoo
  cut: block_13_expand_relu
freeze: all
head:
  - globalAveragePooling2d: {}
  - dense: { units: 64, activation: relu }
  - dropout: { rate: 0.2 }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 32
  stages:
    - name: head
      epochs: 10
      optimizer: { name: adam, learningRate: 0.003 }
`;
}

/** `tlpipe init [dir]`: writes pipeline.yaml and .gitignore, never over existing files. */
export async function initProject(dir: string): Promise<{ ok: true; written: string[] } | { ok: false; message: string; hint: string }> {
  await mkdir(dir, { recursive: true });
  const name = path.basename(path.resolve(dir)).replace(/[^A-Za-z0-9_-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'pipeline';
  const schema = path.relative(path.resolve(dir), SCHEMA_PATH()).split(path.sep).join('/');
  const files = [
    { file: path.join(dir, 'pipeline.yaml'), text: starterPipeline(schema, name) },
    { file: path.join(dir, '.gitignore'), text: GITIGNORE },
  ];
  const written: string[] = [];
  for (const { file, text } of files) {
    try {
      await writeFile(file, text, { flag: 'wx' });
      written.push(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (file.endsWith('pipeline.yaml')) return { ok: false, message: `${file} already exists`, hint: 'init never overwrites; pick another folder or move the file' };
    }
  }
  return { ok: true, written };
}
