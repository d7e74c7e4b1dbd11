/**
 * model/decision.json: the decision rule fitted on the validation split
 * (`evaluate: calibrate / threshold / abstain`), which predict, loadModel,
 * serve and the demo page apply to the model's probabilities. Read back
 * without trust: a temperature out of range, a threshold outside [0, 1] or
 * on a class the model does not have would silently change every answer.
 */
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { UserError } from '../diagnostics/user-error.js';
import type { DecisionRule } from '../engine/evaluate/decision-rule.js';
import { writeFileAtomic } from './atomic-write.js';

export const DECISION_FILE = 'decision.json';

/**
 * The temperatures read back: wider than the range tlpipe fits in (0.05–20),
 * so a rule it wrote always reads, and narrow enough that a hostile one
 * cannot turn every answer into certainty or into a uniform guess.
 */
export const TEMPERATURE_BOUNDS = { min: 0.01, max: 100 } as const;
/** Far more than decision.json ever needs: refused before it is read whole. */
export const DECISION_FILE_LIMIT = 64 * 1024;

const HINT =
  'decision.json holds the rule fitted on the validation split: {"temperature": T (0.01–100), "threshold": {"positive": a class, "value": 0–1, "metric": f1 | balancedAccuracy | precisionAtRecall}, "abstain": 0–1}; the folder was damaged or edited since it was written: run the pipeline again';

const DecisionSchema = Type.Object(
  {
    temperature: Type.Optional(Type.Number()),
    threshold: Type.Optional(
      Type.Object(
        {
          positive: Type.String({ maxLength: 1000 }),
          value: Type.Number(),
          metric: Type.Union([Type.Literal('f1'), Type.Literal('balancedAccuracy'), Type.Literal('precisionAtRecall')]),
          recall: Type.Optional(Type.Number()),
        },
        { additionalProperties: false },
      ),
    ),
    abstain: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);

export async function writeDecisionFile(dir: string, rule: DecisionRule): Promise<void> {
  await writeFileAtomic(path.join(dir, DECISION_FILE), JSON.stringify(rule, null, 2) + '\n');
}

/** decision.json's bytes parsed and checked against the model's labels: each number finite and in its range, the positive class one of them. */
export function parseDecision(bytes: Uint8Array, file: string, labels: readonly string[]): DecisionRule {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    throw new UserError(`${file} is not valid JSON`, [], HINT);
  }
  if (!Value.Check(DecisionSchema, value)) {
    const error = Value.Errors(DecisionSchema, value).First();
    throw new UserError(
      `${file} is not a decision rule (${error ? `${error.path === '' ? 'the whole file' : `at ${error.path}`}: ${error.message.toLowerCase()}` : 'unexpected shape'})`,
      [],
      HINT,
    );
  }
  const rule = value as DecisionRule;
  const wrong = decisionProblem(rule, labels);
  if (wrong) throw new UserError(`${file}: ${wrong}`, [], HINT);
  return rule;
}

/** The first thing wrong with a rule's values, in a person's words; JSON has no NaN or Infinity, but 1e999 parses as Infinity. */
function decisionProblem(rule: DecisionRule, labels: readonly string[]): string | undefined {
  const { temperature, threshold, abstain } = rule;
  if (
    temperature !== undefined &&
    !(Number.isFinite(temperature) && temperature >= TEMPERATURE_BOUNDS.min && temperature <= TEMPERATURE_BOUNDS.max)
  )
    return `the temperature is ${temperature}; it must be a number from ${TEMPERATURE_BOUNDS.min} to ${TEMPERATURE_BOUNDS.max}`;
  if (threshold) {
    if (!(Number.isFinite(threshold.value) && threshold.value >= 0 && threshold.value <= 1))
      return `the threshold is ${threshold.value}; it must be a probability from 0 to 1`;
    if (labels.length !== 2)
      return `a threshold decides between two classes, and the model has ${labels.length} (labels.json)`;
    if (!labels.includes(threshold.positive))
      return `the threshold's positive class \`${threshold.positive}\` is not one of the model's classes (${labels.join(', ')})`;
    if (threshold.recall !== undefined && !(threshold.recall > 0 && threshold.recall <= 1))
      return `the threshold's recall is ${threshold.recall}; it must be above 0 and at most 1`;
  }
  if (abstain !== undefined && !(Number.isFinite(abstain) && abstain > 0 && abstain < 1))
    return `abstain is ${abstain}; it must be a confidence between 0 and 1`;
  return undefined;
}
