import { frozenPrefix } from './frozen-prefix.js';
import type { Plan, PlanStage } from './types.js';

/** The wasm backend's heap: 32-bit addresses. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;
/** Kept free for the weights, the optimizer's moments and the allocator's slack. */
const HEAP_RESERVE_BYTES = 256 * 2 ** 20;

/**
 * Heap bytes one training example costs in a stage that runs images through
 * the base: every layer's activations stay alive until the step ends, and
 * the trainable part adds its gradients. A stage trained above its frozen
 * prefix holds only the layers above it (the prefix runs outside the tape,
 * or not at all). Calibrated on MobileNetV2 with the wasm backend (peak
 * heap / activation bytes): 3.1–3.3 with the top blocks unfrozen at 96×96
 * and 224×224, 5.1 with every layer unfrozen at 224×224; the constants
 * below sit just above those.
 */
export function trainingBytesPerExample(plan: Plan, stage: PlanStage): number {
  const trainable = new Set(stage.trainableBaseLayers);
  const split = stage.frozenPrefix ? frozenPrefix(plan.base.layers, trainable) : undefined;
  const outside = new Set(split?.kind === 'split' ? split.layers : []);
  const held = plan.base.layers.filter((l) => !outside.has(l.name));
  const all = held.reduce((sum, l) => sum + (l.outputElements ?? 0), 0);
  const learning = held.reduce((sum, l) => sum + (trainable.has(l.name) ? (l.outputElements ?? 0) : 0), 0);
  return 4 * all * (3.4 + (2.0 * learning) / Math.max(1, all));
}

/** The largest batch whose training step fits a heap of `heapBytes`. */
export function largestBatch(bytesPerExample: number, heapBytes: number): number {
  return Math.max(0, Math.floor((heapBytes - HEAP_RESERVE_BYTES) / bytesPerExample));
}

export interface HeapProblem {
  stage: PlanStage;
  needBytes: number;
  largest: number;
}

/** Stages whose training batches would not fit the heap: found before any training, never a bare `Aborted()`. */
export function heapProblems(plan: Plan, heapBytes = WASM_HEAP_BYTES): HeapProblem[] {
  return plan.stages
    .filter((stage) => stage.trainable === 'base+head')
    .map((stage) => {
      const perExample = trainingBytesPerExample(plan, stage);
      return {
        stage,
        needBytes: perExample * stage.batchSize + HEAP_RESERVE_BYTES,
        largest: largestBatch(perExample, heapBytes),
      };
    })
    .filter((p) => p.needBytes > heapBytes);
}

/** What one inference batch may take of the heap: the rest holds weights, stored features and training state. */
const INFERENCE_BUDGET_BYTES = 2 ** 30;
export const MAX_INFERENCE_BATCH = 32;

/**
 * Examples per inference batch (feature extraction, evaluation): 32, or
 * fewer when the base's largest activation map would not leave the batch
 * within a GiB of heap (large images). Inference frees each layer's input
 * once used, so a few activation maps at a time are alive, not all of them.
 */
export function inferenceBatch(layers: { outputElements?: number }[]): number {
  const largest = Math.max(1, ...layers.map((l) => l.outputElements ?? 0));
  return Math.max(1, Math.min(MAX_INFERENCE_BATCH, Math.floor(INFERENCE_BUDGET_BYTES / (16 * largest))));
}
