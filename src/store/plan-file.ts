import path from 'node:path';
import { Type, type TSchema } from '@sinclair/typebox';
import { UserError } from '../diagnostics/user-error.js';
import type { PipelineSpec } from '../format/types.js';
import { EXAMPLE_LOSSES, PIXEL_LOSSES, type Plan } from '../plan/types.js';
import { writeJsonAtomic } from './atomic-write.js';
import { readShapedJsonIfPresent } from './read-back-shape.js';
import { planShape, shapeByTask } from './tasks/registry.js';

/** plan.json: the compiled plan with its fingerprints; resolved.json: the spec with every default filled in. */
export const PLAN_FILE = 'plan.json';
export const RESOLVED_FILE = 'resolved.json';

/**
 * What readers of plan.json use (report, evaluate, predict through the
 * exported model): the top level and each stage, field by field.
 */
const PlanFields = {
  formatVersion: Type.Literal(2),
  pipeline: Type.String(),
  fingerprint: Type.String(),
  seed: Type.Number(),
  backend: Type.String(),
  classes: Type.Object({ count: Type.Integer({ minimum: 1 }), names: Type.Array(Type.String()) }),
  data: Type.Object({
    format: Type.String(),
    image: Type.Optional(
      Type.Object({ size: Type.Array(Type.Integer({ minimum: 1 })), channels: Type.Integer({ minimum: 1 }) }),
    ),
  }),
  // evaluate sizes its batches from the layers' outputs.
  base: Type.Object({
    model: Type.String(),
    cut: Type.String(),
    layers: Type.Array(Type.Object({ outputElements: Type.Optional(Type.Number({ minimum: 0 })) })),
  }),
  head: Type.Array(Type.Object({})),
  features: Type.Object({ mode: Type.String() }),
  normalize: Type.Object({}),
  checkpoints: Type.Object({ monitor: Type.String(), mode: Type.String() }),
  // evaluate scores a run's model with the loss it trained with.
  loss: Type.Union([...EXAMPLE_LOSSES, ...PIXEL_LOSSES].map((kind) => Type.Literal(kind))),
  tasks: Type.Array(Type.Object({ kind: Type.String() })),
};
/** Every plan's fields, and its task's (a classification plan has no `task` key: plans written before tasks existed read the same). */
export const PlanSchema = planShape(PlanFields);
/** resolved.json: a pipeline with its defaults filled in; compare flattens it, evaluate reads its dataset. */
/** What resume and evaluate read of a resolved spec before they hand it to the data readers and the planner. */
const ResolvedFields = {
  name: Type.String(),
  seed: Type.Number(),
  backend: Type.String(),
  dataset: Type.Object({ format: Type.String() }),
  base: Type.Object({ model: Type.String() }),
  head: Type.Array(Type.Object({})),
};
export const ResolvedSchema = shapeByTask((store) =>
  Type.Object({
    ...ResolvedFields,
    train: Type.Object({
      stages: Type.Array(Type.Object({ epochs: Type.Integer({ minimum: 1 }) }), { minItems: store.minStages }),
    }),
  }),
);

function readJson(dir: string, name: string, what: string, schema: TSchema, expected: string): Promise<unknown> {
  const hint = `the run's ${what} was damaged or edited by hand; tlpipe will not use it (run the pipeline again)`;
  return readShapedJsonIfPresent(dir, name, { what: `the run's ${what}`, hint, schema, expected });
}

export const writePlan = (dir: string, plan: Plan): Promise<void> => writeJsonAtomic(path.join(dir, PLAN_FILE), plan);
export const writeResolved = (dir: string, spec: PipelineSpec): Promise<void> =>
  writeJsonAtomic(path.join(dir, RESOLVED_FILE), spec);

/** The run's plan; every run folder has one, so its absence is a user error. */
export async function readPlan(dir: string): Promise<Plan> {
  const plan = (await readJson(
    dir,
    PLAN_FILE,
    'plan',
    PlanSchema,
    'a plan tlpipe wrote (formatVersion 2, with its stages)',
  )) as Plan | undefined;
  if (!plan)
    throw new UserError(
      `${path.join(dir, PLAN_FILE)} not found`,
      [],
      'the run folder is incomplete; a run writes plan.json before it trains',
    );
  return plan;
}

/** The run's resolved spec, or undefined when absent (init's .gitignore leaves it out of git). */
export function readResolved(dir: string): Promise<PipelineSpec | undefined> {
  return readJson(
    dir,
    RESOLVED_FILE,
    'resolved pipeline',
    ResolvedSchema,
    'a resolved pipeline (name, seed, backend, dataset, base, head and train with its stages)',
  ) as Promise<PipelineSpec | undefined>;
}
