import type { Diagnostic, Result } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import { adaptAgain, adaptProblems, adaptRecord } from '../compile-steps/adapt-task.js';
import { assemblePlan } from '../compile-steps/assemble-plan.js';
import { resolveClasses } from '../compile-steps/classes.js';
import { closingTasks } from '../compile-steps/closing-tasks.js';
import { headParamCount, resolveHead } from '../compile-steps/head.js';
import { heapDiagnostics } from '../compile-steps/heap-check.js';
import { planStage } from '../compile-steps/plan-stage.js';
import { setupTasks } from '../compile-steps/setup-tasks.js';
import { withShiftAfter, withShiftBefore } from '../compile-steps/shift-tasks.js';
import { noStagesYet, type StageContext } from '../compile-steps/stages-so-far.js';
import { trainableBaseLayers } from '../compile-steps/trainable-base-layers.js';
import type { ExportTask, LossKind, Plan, PlanInputs, PlanTask, ResolvedHeadLayer } from '../types.js';
import type { PlanOptions } from './task-planner.js';

/** What a task that trains a head in stages decides for itself; the rest is planStaged's. */
export interface StagedTaskPart {
  /** The plan's `task` tag; absent for classification, whose plans have none (they read as before tasks existed). */
  task?: Plan['task'];
  /** Problems of a head that resolved: what this task needs of its output. */
  headProblems?(spec: PipelineSpec, inputs: PlanInputs, head: ResolvedHeadLayer[]): Diagnostic[];
  /** How the frozen base feeds the head in head-only stages. */
  features(spec: PipelineSpec, inputs: PlanInputs, head: ResolvedHeadLayer[]): Plan['features'];
  /** Why every stage must run images through the whole model, when the task's targets cannot sit beside stored features. */
  imagesOnly?: string;
  /** The evaluate and export tasks' descriptions, when the task's differ from classification's. */
  descriptions?: { evaluate: string; export: string };
  /** The loss, from the head's last layer. */
  loss(head: readonly ResolvedHeadLayer[]): LossKind;
}

/**
 * A task that trains a head in stages (classification, segmentation): the
 * classes, the head, the freeze rules, one step per stage, the closing tasks
 * and the heap check, each in compile-steps/, with the task's own part
 * where they differ. Problems come back as diagnostics.
 */
export function planStaged(
  spec: PipelineSpec,
  inputs: PlanInputs,
  options: PlanOptions,
  part: StagedTaskPart,
): Result<Plan> {
  const classes = resolveClasses(spec, inputs);
  const { head, diagnostics: headProblems } = resolveHead(spec, inputs);
  const problems = [...classes.diagnostics, ...headProblems, ...adaptProblems(spec, inputs)];
  if (problems.length === 0 && part.headProblems) problems.push(...part.headProblems(spec, inputs, head));
  if (problems.length > 0) return { ok: false, diagnostics: problems };

  const trainable = trainableBaseLayers(spec, inputs);
  const errors = trainable.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) return { ok: false, diagnostics: errors };

  const features = part.features(spec, inputs, head);
  const context: StageContext = {
    spec,
    inputs,
    head,
    features,
    trainableByStage: trainable.byStage,
    headParams: headParamCount(head, inputs.base.cutOutputShape, inputs),
    splitPrefix: options.frozenPrefix !== false,
    ...(part.imagesOnly !== undefined ? { imagesOnly: part.imagesOnly } : {}),
  };
  const setup = withShiftBefore(spec, inputs, setupTasks(spec, inputs, head));
  // AdaBN again after the stages when one trained batch-norm statistics, before the shift is measured on the base they leave.
  const trained = withShiftAfter(
    spec,
    inputs,
    adaptAgain(spec, inputs, spec.train.stages.reduce(planStage(context), noStagesYet(setup))),
  );
  const closed = closingTasks(spec, inputs, head, classes.names, trained);
  const { tasks, exported } = part.descriptions ? described(closed, part.descriptions) : closed;
  const adapt = adaptRecord(spec, inputs, trained.stages);
  const assembled = assemblePlan(spec, inputs, {
    names: classes.names,
    head,
    features,
    stages: trained.stages,
    tasks,
    exported,
    loss: part.loss(head),
  });
  const plan = adapt ? { ...assembled, adapt } : assembled;

  const heap = heapDiagnostics(spec, inputs, plan);
  if (heap.length > 0) return { ok: false, diagnostics: heap };
  return {
    ok: true,
    warnings: trainable.diagnostics.filter((d) => d.severity === 'warning'),
    value: part.task !== undefined ? { ...plan, task: part.task } : plan,
  };
}

/** The closing tasks with the task's descriptions; descriptions are outside the fingerprints, so the tasks keep theirs. */
function described(
  closed: { tasks: PlanTask[]; exported: ExportTask },
  descriptions: { evaluate: string; export: string },
): { tasks: PlanTask[]; exported: ExportTask } {
  const exported = { ...closed.exported, description: descriptions.export };
  const tasks = closed.tasks.map((t): PlanTask =>
    t.kind === 'export' ? exported : t.kind === 'evaluate' ? { ...t, description: descriptions.evaluate } : t,
  );
  return { tasks, exported };
}
