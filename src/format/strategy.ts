import type { FreezeRule, PipelineFile, StageAsWritten, StageSpec } from './types.js';
import { cutTheHeadNeeds } from './head-layers/unet.js';
import { ZOO } from './zoo-catalog.js';

/**
 * The four classic transfer scenarios, by how large the target dataset is
 * and how similar it is to what the base learned:
 *   head-only      small, similar    new head on the frozen base
 *   head-then-all  large, similar    new head, then the whole network at a 100× lower rate
 *   low-level      small, different  cut early, keep low-level features, train new layers
 *   all            large, different  new head, every layer trains from the first epoch
 * `auto` chooses among them by measuring (engine/facts/strategy-probe) and
 * deciding (plan/strategy).
 */
export type NamedStrategy = 'head-only' | 'head-then-all' | 'low-level' | 'all';
export type StrategyName = NamedStrategy | 'auto';
export const NAMED_STRATEGIES: readonly NamedStrategy[] = ['head-only', 'head-then-all', 'low-level', 'all'];

/** Keys a strategy fills when the file does not write them. */
export type StrategyKey = 'base.cut' | 'freeze' | 'train.stages';

/**
 * For `strategy: auto`, what each named strategy sets in this file, resolved
 * like the rest of it (keys the file writes win): the planner picks one once
 * measured (plan/strategy), so nothing is resolved or checked a second
 * time. The cut is not among them: auto's cut is the one the probe chose.
 */
export type StrategyChoices = Readonly<Record<NamedStrategy, { freeze: FreezeRule[]; stages: StageSpec[] }>>;

/** The head's learning rate in every strategy; fine-tuning runs 100× lower. */
const HEAD_RATE = 0.001;
const HEAD_EPOCHS = 10;
const FINE_TUNE_EPOCHS = 5;

/** What a strategy writes for a base: the keys, as a user would write them. */
export function strategyKeys(
  strategy: NamedStrategy,
  model: string,
  cut?: string,
): { cut?: string; freeze: 'all' | 'none'; stages: StageAsWritten[] } {
  const zoo = ZOO[model];
  const head: StageAsWritten = {
    name: 'head',
    epochs: HEAD_EPOCHS,
    optimizer: { name: 'adam', learningRate: HEAD_RATE },
  };
  switch (strategy) {
    case 'head-only':
      return {
        ...((cut ?? zoo?.featureLayer) ? { cut: cut ?? zoo!.featureLayer } : {}),
        freeze: 'all',
        stages: [head],
      };
    case 'head-then-all':
      return {
        ...((cut ?? zoo?.featureLayer) ? { cut: cut ?? zoo!.featureLayer } : {}),
        freeze: 'all',
        stages: [
          head,
          {
            name: 'finetune',
            epochs: FINE_TUNE_EPOCHS,
            unfreeze: ['all'],
            optimizer: { name: 'adam', learningRate: HEAD_RATE / 100 },
          },
        ],
      };
    case 'low-level':
      return { ...((cut ?? zoo?.lowLevelCut) ? { cut: cut ?? zoo!.lowLevelCut } : {}), freeze: 'all', stages: [head] };
    case 'all':
      return {
        ...((cut ?? zoo?.featureLayer) ? { cut: cut ?? zoo!.featureLayer } : {}),
        freeze: 'none',
        stages: [
          {
            name: 'all',
            epochs: HEAD_EPOCHS,
            optimizer: { name: 'adam', learningRate: { head: HEAD_RATE, base: HEAD_RATE / 10 } },
          },
        ],
      };
  }
}

/**
 * The file with a strategy's keys filled in where the file does not write
 * them: what is written always wins. Pure; returns which keys it filled.
 */
export function expandStrategy(
  file: PipelineFile,
  strategy: NamedStrategy,
): { file: PipelineFile; filled: StrategyKey[] } {
  const model = file.base?.model ?? 'mobilenet_v2';
  // A head that needs its own cut (unet's skips read the encoder at block_16_project) keeps it under any strategy.
  const keys = strategyKeys(strategy, model, cutTheHeadNeeds(file.head, model));
  const filled: StrategyKey[] = [];
  const base = { ...file.base };
  if (base.cut === undefined && keys.cut !== undefined) {
    base.cut = keys.cut;
    filled.push('base.cut');
  }
  let freeze = file.freeze;
  if (freeze === undefined) {
    freeze = keys.freeze;
    filled.push('freeze');
  }
  const train = { ...file.train };
  if (train.stages === undefined) {
    train.stages = keys.stages;
    filled.push('train.stages');
  }
  return { file: { ...file, base, freeze, train }, filled };
}
