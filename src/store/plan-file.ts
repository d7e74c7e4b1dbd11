import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';
import type { PipelineSpec } from '../format/types.js';
import type { Plan } from '../plan/types.js';
import { writeJsonAtomic } from './atomic-write.js';

/** plan.json: the compiled plan with its fingerprints; resolved.json: the spec with every default filled in. */
export const PLAN_FILE = 'plan.json';
export const RESOLVED_FILE = 'resolved.json';

async function readJson<T>(dir: string, name: string, what: string): Promise<T | undefined> {
  const file = path.join(dir, name);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${file}: ${error.code ?? error.message}`);
  });
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UserError(`${file} is not valid JSON`, [], `the run's ${what} is damaged`);
  }
}

export const writePlan = (dir: string, plan: Plan): Promise<void> => writeJsonAtomic(path.join(dir, PLAN_FILE), plan);
export const writeResolved = (dir: string, spec: PipelineSpec): Promise<void> => writeJsonAtomic(path.join(dir, RESOLVED_FILE), spec);

/** The run's plan; every run folder has one, so its absence is a user error. */
export async function readPlan(dir: string): Promise<Plan> {
  const plan = await readJson<Plan>(dir, PLAN_FILE, 'plan');
  if (!plan) throw new UserError(`${path.join(dir, PLAN_FILE)} not found`, [], 'the run folder is incomplete; a run writes plan.json before it trains');
  return plan;
}

/** The run's resolved spec, or undefined when absent (init's .gitignore leaves it out of git). */
export function readResolved(dir: string): Promise<PipelineSpec | undefined> {
  return readJson<PipelineSpec>(dir, RESOLVED_FILE, 'resolved pipeline');
}
