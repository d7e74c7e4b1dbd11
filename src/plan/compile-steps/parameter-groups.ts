import type { OptimizerSpec } from '../../format/types.js';
import { matchRule } from '../freeze-rules.js';
import type { ParameterGroup } from '../types.js';

/**
 * The stage's learning weights split by peak learning rate: the head at
 * `learningRate`, base layers at `baseLearningRate` times the first
 * multiplier rule that names them. Layers with equal rates share a group.
 */
export function groupByLearningRate(optimizer: OptimizerSpec, trainableBaseLayers: string[]): ParameterGroup[] {
  const groups: ParameterGroup[] = [{ name: 'head', learningRate: optimizer.learningRate, head: true, baseLayers: [] }];
  const matched = optimizer.multipliers.map((m) => {
    const names = matchRule(m.layers, trainableBaseLayers);
    return { multiplier: m.multiplier, names: new Set(Array.isArray(names) ? names : []) };
  });
  for (const layer of trainableBaseLayers) {
    const multiplier = matched.find((m) => m.names.has(layer))?.multiplier ?? 1;
    const rate = optimizer.baseLearningRate * multiplier;
    let group = groups.find((g) => !g.head && g.learningRate === rate);
    if (!group) {
      group = {
        name: multiplier === 1 ? 'base' : `base×${multiplier}`,
        learningRate: rate,
        head: false,
        baseLayers: [],
      };
      groups.push(group);
    }
    group.baseLayers.push(layer);
  }
  return groups;
}
