import { fingerprint } from './fingerprint.js';
import type { Plan } from './types.js';

/**
 * A plan as a sweep trial's job carries it to the process that runs it:
 * the fingerprint decides whether the trial's process planned the same
 * plan; the section digests only say, when it did not, which parts differ
 * (a fingerprint alone cannot). A section is a field of a top-level key
 * (`data.digest`, `base.cut`), a field of a stage (`stages[1].frozenPrefix`)
 * or a task's own content (`tasks[train:head]`), each as 8 hex digits of
 * sha256: enough to tell two values apart for a message, small enough to
 * keep one per trial in sweep.json.
 */
export interface PlanDigest {
  fingerprint: string;
  sections?: Record<string, string>;
}

const short = (value: unknown): string => fingerprint(value ?? null).slice(0, 8);
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The section digests of a plan, in the plan's key order. */
export function planSections(plan: Plan): Record<string, string> {
  const sections: Record<string, string> = {};
  for (const [key, value] of Object.entries(plan)) {
    if (key === 'fingerprint' || key === 'stages' || key === 'tasks') continue;
    if (isRecord(value)) for (const [field, inner] of Object.entries(value)) sections[`${key}.${field}`] = short(inner);
    else sections[key] = short(value);
  }
  for (const [i, stage] of plan.stages.entries()) {
    for (const [field, value] of Object.entries(stage))
      if (field !== 'fingerprint' && field !== 'taskId') sections[`stages[${i}].${field}`] = short(value);
  }
  // A task's description is prose about the rest, and its fingerprint chains its upstream's: its own content is the rest.
  for (const { fingerprint: _f, description: _d, ...own } of plan.tasks) sections[`tasks[${own.id}]`] = short(own);
  return sections;
}

export function planDigest(plan: Plan): PlanDigest {
  return { fingerprint: plan.fingerprint, sections: planSections(plan) };
}

/**
 * The sections every trial of a sweep shares (kept once in its record), and
 * each trial's own; `{ ...shared, ...own }` gives a trial's sections back.
 */
export function splitSharedSections(all: readonly Record<string, string>[]): {
  shared: Record<string, string>;
  own: Record<string, string>[];
} {
  const [first, ...rest] = all;
  const shared = Object.fromEntries(
    Object.entries(first ?? {}).filter(([key, digest]) => rest.every((s) => s[key] === digest)),
  );
  const own = all.map((s) => Object.fromEntries(Object.entries(s).filter(([key]) => !(key in shared))));
  return { shared, own };
}

/** What likely made a section differ, for the sections whose cause is one thing. */
const CAUSES: readonly { section: RegExp; cause: string }[] = [
  { section: /^data\.digest$/, cause: "the dataset's files changed" },
  { section: /^base\.digest$/, cause: "the base model's files changed" },
  { section: /^base\.upstream$/, cause: 'the `run:` base now names another run' },
  {
    section: /^stages\[\d+\]\.(frozenPrefix|whole)$/,
    cause: 'the frozen prefix is on in one process and off in the other (TLPIPE_FROZEN_PREFIX)',
  },
  { section: /^strategy\./, cause: '`strategy: auto` decided otherwise' },
];

/** Sections named in a message at most; the rest are counted. */
const MAX_NAMED = 8;

/**
 * Why `actual` is not the plan `expected` describes, in words, or undefined
 * when their fingerprints are equal. Names the sections that differ (those
 * of the plan's own keys first: a task's content repeats them, so tasks are
 * named only when nothing else differs), and the likely causes.
 */
export function planDifference(expected: PlanDigest, actual: PlanDigest): string | undefined {
  if (expected.fingerprint === actual.fingerprint) return undefined;
  const plans = `plan ${expected.fingerprint.slice(0, 8)} when the sweep planned it, ${actual.fingerprint.slice(0, 8)} here`;
  if (!expected.sections || !actual.sections)
    return `${plans}; the sweep's record has no digest of each part (an older tlpipe made it), so which parts differ cannot be said`;
  const differing = differingSections(expected.sections, actual.sections);
  const ownKeys = differing.filter((d) => !d.name.startsWith('tasks['));
  const named = ownKeys.length > 0 ? ownKeys : differing;
  if (named.length === 0) return `${plans}; every part digested is equal, so the difference is in how the tasks chain`;
  const listed = named.slice(0, MAX_NAMED).map((d) => (d.only ? `${d.name} (only ${d.only})` : d.name));
  const more = named.length > MAX_NAMED ? ` and ${named.length - MAX_NAMED} more` : '';
  const causes = [...new Set(named.flatMap((d) => CAUSES.filter((c) => c.section.test(d.name)).map((c) => c.cause)))];
  return `${plans}; ${listed.join(', ')}${more} differ${causes.length > 0 ? ` (${causes.join('; ')})` : ''}`;
}

interface SectionDifference {
  name: string;
  /** Where a section exists on one side only. */
  only?: "in the sweep's plan" | 'in this plan';
}

/** The sections whose digests differ, in the expected plan's order, then those only the actual plan has. */
export function differingSections(
  expected: Record<string, string>,
  actual: Record<string, string>,
): SectionDifference[] {
  const out: SectionDifference[] = [];
  for (const [name, digest] of Object.entries(expected)) {
    if (!(name in actual)) out.push({ name, only: "in the sweep's plan" });
    else if (actual[name] !== digest) out.push({ name });
  }
  for (const name of Object.keys(actual)) if (!(name in expected)) out.push({ name, only: 'in this plan' });
  return out;
}

/** Section digests read from a shared folder: a map of names to 8 hex digits, or undefined when it is not one. */
export function sectionsOrUndefined(value: unknown): Record<string, string> | undefined {
  if (!isRecord(value)) return undefined;
  const entries = Object.entries(value);
  return entries.every(([, digest]) => typeof digest === 'string' && /^[0-9a-f]{8}$/.test(digest))
    ? (value as Record<string, string>)
    : undefined;
}
