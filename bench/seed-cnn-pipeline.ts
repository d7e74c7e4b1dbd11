/**
 * The seed article's CNN as a pipeline (conv 32 3×3 → max-pool → dense 256
 * → dropout 0.5 → dense 10, Adam 1e-3, batch 32): `npm run bench`'s
 * seed_cnn_epoch on full MNIST, and the PyTorch peer's test on a few digits.
 */
export function seedCnnPipeline(options: { name: string; seed: number; dataset: string; epochs: number }): string {
  return `name: ${options.name}
seed: ${options.seed}
backend: wasm
dataset: ${options.dataset}
base: { model: none }
head:
  - conv2d: { filters: 32, kernelSize: 3, padding: valid, activation: relu }
  - maxPooling2d: { poolSize: 2 }
  - flatten: {}
  - dense: { units: 256, activation: relu }
  - dropout: { rate: 0.5 }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 32
  checkpoints: { keepLast: 1 }
  stages:
    - { name: cnn, epochs: ${options.epochs}, optimizer: { name: adam, learningRate: 0.001 } }
`;
}
