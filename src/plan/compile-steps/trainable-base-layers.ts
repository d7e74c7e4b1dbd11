import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec, StageSpec } from '../../format/types.js';
import { ZOO } from '../../format/zoo-catalog.js';
import { applyFreezeRules, resolveSelector, splitBlocks, type RuleProblem } from '../freeze-rules.js';
import type { PlanInputs } from '../types.js';

/** Each stage's trainable base layers, in base order, and the problems and warnings found on the way. */
export interface TrainableBaseLayers {
  byStage: string[][];
  /** Errors (a rule or multiplier matching nothing) and warnings (a multiplier for frozen layers, a split residual block), in file order. */
  diagnostics: Diagnostic[];
}

/**
 * The top-level `freeze` rules applied to an all-trainable base, then each
 * stage's `unfreeze` and `freeze` on top of the stage before: a reduction
 * over the stages.
 */
export function trainableBaseLayers(spec: PipelineSpec, inputs: PlanInputs): TrainableBaseLayers {
  const layers = inputs.base.layers.map((l) => l.name);
  const initial = applyFreezeRules(layers, new Set(layers), [{ kind: 'freeze', rules: spec.freeze }]);
  const blockPattern = ZOO[spec.base.model]?.blockPattern;
  const start = {
    trainable: initial.trainable,
    byStage: [] as string[][],
    diagnostics: ruleDiagnostics(spec.file, ['freeze'], initial.problems),
  };
  const end = spec.train.stages.reduce((before, stage, index) => {
    const next = applyFreezeRules(layers, before.trainable, [
      { kind: 'unfreeze', rules: stage.unfreeze },
      { kind: 'freeze', rules: stage.freeze },
    ]);
    return {
      trainable: next.trainable,
      byStage: [...before.byStage, layers.filter((name) => next.trainable.has(name))],
      diagnostics: [
        ...before.diagnostics,
        ...ruleDiagnostics(spec.file, ['train', 'stages', index], next.problems),
        ...multiplierDiagnostics(spec.file, stage, index, layers, next.trainable),
        ...(blockPattern
          ? splitBlockWarnings(spec.file, stage, index, splitBlocks(layers, next.trainable, new RegExp(blockPattern)))
          : []),
      ],
    };
  }, start);
  return { byStage: end.byStage, diagnostics: end.diagnostics };
}

/** A rule that matches nothing, said at the rule: `path` then the rule's kind (unless the path ends with it) and index. */
function ruleDiagnostics(
  file: string,
  path: Diagnostic['path'],
  problems: readonly (RuleProblem & { kind: string })[],
): Diagnostic[] {
  return problems.map((p) => ({
    file,
    path: [...path, ...(path[path.length - 1] === p.kind ? [] : [p.kind]), p.index],
    message: p.message,
    ...(p.hint ? { hint: p.hint } : {}),
    severity: 'error',
  }));
}

/** Multipliers select layers as freeze rules do, through the same resolver: a typo is an error here too. */
function multiplierDiagnostics(
  file: string,
  stage: StageSpec,
  index: number,
  layers: readonly string[],
  trainable: ReadonlySet<string>,
): Diagnostic[] {
  return stage.optimizer.multipliers.flatMap((m, j): Diagnostic[] => {
    const at = ['train', 'stages', index, 'optimizer', 'multipliers', j, 'layers'];
    const resolved = resolveSelector(m.layers, layers);
    if (!resolved.ok) return [{ file, path: at, message: resolved.message, hint: resolved.hint, severity: 'error' }];
    if (resolved.names.some((name) => trainable.has(name))) return [];
    return [
      {
        file,
        path: at,
        severity: 'warning',
        message: `the multiplier for \`${typeof m.layers === 'string' ? m.layers : `from: ${m.layers.from}`}\` applies to no layer that learns in stage \`${stage.name}\``,
        hint: 'unfreeze those layers in this stage, or remove the multiplier',
      },
    ];
  });
}

function splitBlockWarnings(file: string, stage: StageSpec, index: number, blocks: readonly string[]): Diagnostic[] {
  return blocks.map((block) => ({
    file,
    path: ['train', 'stages', index],
    severity: 'warning',
    message: `stage \`${stage.name}\` trains part of ${block} and freezes the rest`,
    hint: `unfreeze whole blocks, e.g. "${block}_*"`,
  }));
}
