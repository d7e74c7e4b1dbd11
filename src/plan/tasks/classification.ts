import type { Result } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import { assemblePlan } from '../compile-steps/assemble-plan.js';
import { resolveClasses } from '../compile-steps/classes.js';
import { closingTasks } from '../compile-steps/closing-tasks.js';
import { featureMode } from '../compile-steps/feature-mode.js';
import { headParamCount, resolveHead } from '../compile-steps/head.js';
import { heapDiagnostics } from '../compile-steps/heap-check.js';
import { planStage } from '../compile-steps/plan-stage.js';
import { setupTasks } from '../compile-steps/setup-tasks.js';
import { noStagesYet, type StageContext } from '../compile-steps/stages-so-far.js';
import { trainableBaseLayers } from '../compile-steps/trainable-base-layers.js';
import type { Plan, PlanInputs } from '../types.js';
import type { PlanOptions } from './task-planner.js';

/**
 * Classification: the head learns one class per example, stage by stage;
 * each step lives in compile-steps/, problems come back as diagnostics.
 */
export function planClassification(spec: PipelineSpec, inputs: PlanInputs, options: PlanOptions = {}): Result<Plan> {
  const classes = resolveClasses(spec, inputs);
  const { head, diagnostics: headProblems } = resolveHead(spec, inputs);
  const problems = [...classes.diagnostics, ...headProblems];
  if (problems.length > 0) return { ok: false, diagnostics: problems };

  const trainable = trainableBaseLayers(spec, inputs);
  const errors = trainable.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { ok: false, diagnostics: errors };

  const features = featureMode(inputs, head, spec.dataset.augment !== undefined);
  const context: StageContext = {
    spec,
    inputs,
    head,
    features,
    trainableByStage: trainable.byStage,
    headParams: headParamCount(head, inputs.base.cutOutputShape, inputs),
    splitPrefix: options.frozenPrefix !== false,
  };
  const trained = spec.train.stages.reduce(planStage(context), noStagesYet(setupTasks(spec, inputs, head)));
  const { tasks, exported } = closingTasks(spec, inputs, head, classes.names, trained);
  const plan = assemblePlan(spec, inputs, {
    names: classes.names,
    head,
    features,
    stages: trained.stages,
    tasks,
    exported,
  });

  const heap = heapDiagnostics(spec, inputs, plan);
  if (heap.length > 0) return { ok: false, diagnostics: heap };
  return { ok: true, warnings: trainable.diagnostics.filter((d) => d.severity === 'warning'), value: plan };
}
