import type { Prediction, PredictionFailure } from '../../engine/evaluate/predict.js';
import type { ServedAnswer, ServedInput } from '../../serve/served-answers.js';
import { UserError } from '../../diagnostics/user-error.js';
import type { FeatureRow } from '../../engine/data/feature-rows.js';
import type { LoadedModel } from '../load-model.js';

/**
 * A batch of served images through one of a model's own methods (classify,
 * segment, score: the code `tlpipe predict` runs, so the answers are its
 * answers), each answer back in its instance's place. Each image goes in
 * under its index, since two uploads may share a name.
 */
export async function answerImages<T extends { file: string }>(
  inputs: readonly ServedInput[],
  run: (images: { name: string; bytes: Uint8Array }[]) => Promise<{ items: T[]; failures: PredictionFailure[] }>,
  toAnswer: (item: T) => ServedAnswer | Promise<ServedAnswer>,
): Promise<ServedAnswer[]> {
  const answers = new Array<ServedAnswer>(inputs.length);
  const images: { name: string; bytes: Uint8Array }[] = [];
  inputs.forEach((input, i) => {
    if (input.kind === 'image') images.push({ name: String(i), bytes: input.bytes });
    else answers[i] = { error: 'this model takes images, not table rows' };
  });
  if (images.length === 0) return answers;
  const { items, failures } = await run(images);
  for (const item of items) answers[Number(item.file)] = await toAnswer(item);
  for (const failure of failures) answers[Number(failure.file)] = { error: imageProblem(failure.reason) };
  return answers;
}

/** A decoding failure as a client reads it: what is wrong with the image, without the server's names for it. */
const imageProblem = (reason: string): string => `the image cannot be used: ${reason.replace(/^image \d+: /, '')}`;

/** A batch of served rows through the model's predict(): each row's answer, or the error that names what is wrong with it. */
export async function answerRows(
  loaded: LoadedModel,
  inputs: readonly ServedInput[],
  toAnswer: (top: { label: string; probability: number }[], prediction: Prediction) => ServedAnswer,
): Promise<ServedAnswer[]> {
  const answers = new Array<ServedAnswer>(inputs.length);
  const rows: { at: number; row: FeatureRow }[] = [];
  inputs.forEach((input, i) => {
    if (input.kind === 'row') rows.push({ at: i, row: input.values });
    else answers[i] = { error: 'this model takes table rows, not images' };
  });
  const top = loaded.labels.length;
  const predictRows = async (batch: typeof rows): Promise<void> => {
    const { predictions } = await loaded.predict(
      batch.map((r) => r.row),
      { top },
    );
    predictions.forEach((p, i) => (answers[batch[i]!.at] = toAnswer(p.top, p)));
  };
  try {
    await predictRows(rows);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    // One row that does not fit is that row's error; the others are answered.
    for (const row of rows)
      await predictRows([row]).catch((rowError: unknown) => {
        if (!(rowError instanceof UserError)) throw rowError;
        // The message lists the bad rows of the batch given, here the one: its line without the row number.
        const said =
          rowError.message
            .split('\n')
            .map((line) => line.trim())
            .filter(Boolean)
            .pop() ?? rowError.message;
        answers[row.at] = { error: said.replace(/^row \d+: /, '') };
      });
  }
  return answers;
}

/**
 * A classification's answer: the best class, every class's probability (in
 * labels.json's order), and the ranking. A model with a decision rule
 * answers with its decided label (`unsure: true` where it abstains).
 */
export function classAnswer(
  labels: readonly string[],
  ranked: { label: string; probability: number }[],
  decided: Pick<Prediction, 'label' | 'unsure'> = {},
): ServedAnswer {
  const byLabel = new Map(ranked.map((r) => [r.label, r.probability]));
  return {
    label: decided.label ?? ranked[0]!.label,
    ...(decided.unsure !== undefined ? { unsure: decided.unsure } : {}),
    probabilities: Object.fromEntries(labels.map((l) => [l, byLabel.get(l) ?? 0])),
    top: ranked,
  };
}
