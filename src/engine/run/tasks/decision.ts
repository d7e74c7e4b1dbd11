import { UserError } from '../../../diagnostics/user-error.js';
import type { DecisionTask } from '../../../plan/types.js';
import { inferenceBatch } from '../../../plan/memory-estimate.js';
import { fitDecision, type DecisionGoal, type FittedDecision } from '../../evaluate/decision-metrics.js';
import { evaluatePredictions } from '../../evaluate/evaluate.js';
import { setTrainableLayers } from '../../model/trainable-layers.js';
import type { RunContext } from '../run-context.js';
import type { TaskInputs } from '../task-results.js';

/**
 * The decision rule (`evaluate: calibrate / threshold / abstain`) fitted on
 * the validation split's predictions of the model as the last stage left it:
 * the head on that stage's features, or the whole model on the examples.
 */
export async function runDecisionTask(
  task: DecisionTask,
  inputs: TaskInputs['decision'],
  run: RunContext,
): Promise<FittedDecision> {
  const { plan, options, models } = run;
  const goal = task.config as unknown as DecisionGoal;
  const names = plan.classes.names;
  if (goal.threshold && (names.length !== 2 || !names.includes(goal.threshold.positive)))
    throw new UserError(
      names.length !== 2
        ? `evaluate.threshold decides between two classes, and this dataset has ${names.length} (${names.join(', ')})`
        : `evaluate.threshold.positive \`${goal.threshold.positive}\` is not one of the classes (${names.join(', ')})`,
      [],
      'name one of the two classes as positive, or remove evaluate.threshold',
    );
  // Abstaining alone fits nothing: the confidence is the pipeline's own, and no validation split is needed.
  if (goal.calibrate !== 'temperature' && !goal.threshold) return fitDecision([], [], goal, names);
  setTrainableLayers(run.inputs.base, 'none');
  const onFeatures = task.on === 'features';
  const validation = onFeatures ? inputs.features?.sources.validation : inputs.data?.validation;
  if (!validation || validation.count === 0)
    throw new UserError(
      'the decision rule (evaluate.calibrate / threshold) is fitted on the validation split, and this run has no validation examples',
      [],
      'set dataset.validation to a fraction such as 0.1, with enough examples that each class has some',
    );
  const predicted = await evaluatePredictions(
    models.model(onFeatures ? 'head' : 'full'),
    validation,
    plan.loss,
    names,
    [],
    inferenceBatch(plan.base.layers),
  );
  const fitted = fitDecision(predicted.actual, predicted.probabilities, goal, names);
  const { temperature, threshold } = fitted.fit;
  const said = [
    temperature
      ? `temperature ${temperature.value.toFixed(3)} (validation NLL ${temperature.nllBefore.toFixed(4)} → ${temperature.nllAfter.toFixed(4)})`
      : undefined,
    threshold && fitted.rule.threshold
      ? `threshold ${threshold.value.toFixed(4)} on ${fitted.rule.threshold.positive} (validation ${fitted.rule.threshold.metric} ${threshold.validation[fitted.rule.threshold.metric === 'precisionAtRecall' ? 'precision' : fitted.rule.threshold.metric].toFixed(4)})`
      : undefined,
    fitted.rule.abstain !== undefined ? `"unsure" below ${fitted.rule.abstain}` : undefined,
  ].filter((s) => s !== undefined);
  options.onEvent({
    type: 'log',
    level: 'info',
    message: `decision rule fitted on ${predicted.actual.length} validation examples: ${said.join('; ')}`,
  });
  if (threshold?.fallback) options.onEvent({ type: 'log', level: 'warn', message: threshold.fallback });
  return fitted;
}
