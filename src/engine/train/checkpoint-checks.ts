import type * as tf from '@tensorflow/tfjs';
import type { Plan } from '../../plan/types.js';
import { weightSpecsProblem } from '../../platform/weight-specs.js';

/**
 * A checkpoint's files checked against the run's plan before anything is
 * allocated from them or loaded into a model. The manifest says a file is
 * as it was written; these checks say it describes this run (someone may
 * have edited a file and its manifest digest both): its stage and epoch are
 * the plan's, every byte range lies inside its file, every declared tensor
 * size adds up to the bytes there are. Each returns a problem in a person's
 * words, or nothing.
 */

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown, max = Number.MAX_SAFE_INTEGER): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= max;
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export { weightSpecsProblem };

/** model.json of a checkpoint: one weights group in ./weights.bin, whose specs add up to its size. */
export function checkpointModelProblem(
  model: unknown,
  weightBytes: number,
): { specs?: tf.io.WeightsManifestEntry[]; problem?: string } {
  if (!isRecord(model) || !isRecord(model['modelTopology'])) return { problem: 'model.json is not a saved tfjs model' };
  const manifest = model['weightsManifest'];
  if (!Array.isArray(manifest) || manifest.length !== 1 || !isRecord(manifest[0]))
    return { problem: 'model.json does not have the one weights group tlpipe writes' };
  const paths = manifest[0]['paths'];
  if (!Array.isArray(paths) || paths.length !== 1 || paths[0] !== './weights.bin')
    return { problem: `model.json names weights files ${JSON.stringify(paths)}, not ./weights.bin` };
  const problem = weightSpecsProblem(manifest[0]['weights'], weightBytes, 'model.json');
  return problem ? { problem } : { specs: manifest[0]['weights'] as tf.io.WeightsManifestEntry[] };
}

/** The early-stopping or plateau counters of a stage state. */
function monitorProblem(value: unknown, epoch: number, plateau: boolean): string | undefined {
  if (!isRecord(value)) return 'is missing';
  if (value['best'] !== null && !isFiniteNumber(value['best'])) return 'has a best value that is not a number';
  if (!isCount(value['bestEpoch'], epoch))
    return `has best epoch ${JSON.stringify(value['bestEpoch'])}, not one of epochs 0–${epoch}`;
  if (!isCount(value['wait'], epoch)) return `has a wait of ${JSON.stringify(value['wait'])} epochs`;
  if (
    plateau &&
    (!isCount(value['cooldown'], 1_000_000) ||
      !isFiniteNumber(value['scale']) ||
      (value['scale'] as number) <= 0 ||
      (value['scale'] as number) > 1)
  )
    return 'has a cooldown or scale out of range';
  return undefined;
}

/**
 * trainer-state.json checked against the plan and against optimizer.bin's
 * size: the stage exists at its index, the epoch is one of that stage's,
 * the counters fit it, the completed stages are the plan's earlier ones,
 * each optimizer group's byte range lies inside optimizer.bin and its specs
 * add up to that range.
 */
export function trainerStateProblem(
  value: unknown,
  plan: Plan,
  dir: string,
  optimizerBytes: number,
): string | undefined {
  if (!isRecord(value) || value['formatVersion'] !== 1) return 'trainer-state.json is not a trainer state tlpipe wrote';
  const index = value['stageIndex'];
  if (!isCount(index) || index >= plan.stages.length)
    return `trainer-state.json names stage index ${JSON.stringify(index)}; the plan has ${plan.stages.length} stage(s)`;
  const stage = plan.stages[index]!;
  if (value['stage'] !== stage.name)
    return `trainer-state.json names stage ${JSON.stringify(value['stage'])} at index ${index}, where the plan has ${JSON.stringify(stage.name)}`;
  const epoch = value['epoch'];
  if (!Number.isSafeInteger(epoch) || (epoch as number) < stage.firstEpoch || (epoch as number) > stage.lastEpoch) {
    return `trainer-state.json says epoch ${JSON.stringify(epoch)} of stage ${stage.name}, whose epochs are ${stage.firstEpoch}–${stage.lastEpoch} (${stage.epochs} in the plan)`;
  }
  const at = epoch as number;
  if (dir !== `checkpoints/epoch-${String(at).padStart(3, '0')}`)
    return `trainer-state.json says epoch ${at}, but it is in ${dir}`;
  if (value['model'] !== stage.weights)
    return `trainer-state.json holds ${JSON.stringify(value['model'])} weights; stage ${stage.name} checkpoints ${stage.weights}`;

  const stageState = value['stageState'];
  if (!isRecord(stageState)) return 'trainer-state.json has no stage state';
  if (stageState['stageEpoch'] !== at - stage.firstEpoch + 1)
    return `trainer-state.json's stage state is at stage epoch ${JSON.stringify(stageState['stageEpoch'])}, not ${at - stage.firstEpoch + 1}`;
  if (typeof stageState['done'] !== 'boolean' || typeof stageState['stoppedEarly'] !== 'boolean')
    return "trainer-state.json's stage state has no done/stoppedEarly flags";
  if (at === stage.lastEpoch && !stageState['done'])
    return `trainer-state.json says stage ${stage.name} goes on after its last epoch ${at}`;
  if (stage.earlyStopping) {
    const problem = monitorProblem(stageState['earlyStopping'], at, false);
    if (problem) return `trainer-state.json's early-stopping state ${problem}`;
  }
  if (stage.reduceLROnPlateau) {
    const problem = monitorProblem(stageState['plateau'], at, true);
    if (problem) return `trainer-state.json's plateau state ${problem}`;
  }

  const metrics = value['metrics'];
  if (!isRecord(metrics) || metrics['epoch'] !== at || metrics['stage'] !== stage.name)
    return `trainer-state.json's metrics are not those of epoch ${at} of stage ${stage.name}`;
  const random = value['random'];
  if (
    !isRecord(random) ||
    Object.keys(random).length > 64 ||
    !Object.values(random).every((s) => isCount(s, 2 ** 32 - 1))
  )
    return "trainer-state.json's random streams are not 32-bit states";

  const completed = value['completedStages'];
  if (!Array.isArray(completed) || completed.length !== index)
    return `trainer-state.json lists ${Array.isArray(completed) ? completed.length : 'no'} completed stage(s) before stage ${index + 1} of the plan`;
  for (const [i, done] of completed.entries()) {
    const planned = plan.stages[i]!;
    if (!isRecord(done) || done['name'] !== planned.name || done['epochs'] !== planned.epochs)
      return `trainer-state.json's completed stage ${i + 1} is not the plan's stage ${planned.name}`;
    if (
      !isCount(done['epochsRun'], planned.epochs) ||
      (done['epochsRun'] as number) < 1 ||
      typeof done['stoppedEarly'] !== 'boolean' ||
      !isFiniteNumber(done['lastLearningRate'])
    )
      return `trainer-state.json's outcome of stage ${planned.name} is out of range`;
    if (
      done['restoredEpoch'] !== undefined &&
      (!Number.isSafeInteger(done['restoredEpoch']) ||
        (done['restoredEpoch'] as number) < planned.firstEpoch ||
        (done['restoredEpoch'] as number) > planned.lastEpoch)
    )
      return `trainer-state.json's stage ${planned.name} restored an epoch outside it`;
  }

  const optimizers = value['optimizers'];
  const groups = stage.parameterGroups.map((g) => g.name);
  if (!Array.isArray(optimizers) || optimizers.length === 0 || optimizers.length > groups.length)
    return `trainer-state.json has ${Array.isArray(optimizers) ? optimizers.length : 'no'} optimizer state(s) for stage ${stage.name}'s ${groups.length} parameter group(s)`;
  let offset = 0;
  let groupAt = 0;
  for (const [i, o] of optimizers.entries()) {
    if (!isRecord(o) || typeof o['group'] !== 'string')
      return `trainer-state.json's optimizer ${i + 1} names no parameter group`;
    // In the plan's order, each group at most once (a group without weights has no optimizer).
    const found = groups.indexOf(o['group'], groupAt);
    if (found < 0)
      return `trainer-state.json's optimizer ${i + 1} is for group ${JSON.stringify(o['group'])}, not one of stage ${stage.name}'s groups (${groups.join(', ')}) in order`;
    groupAt = found + 1;
    if (
      o['byteOffset'] !== offset ||
      !isCount(o['byteLength']) ||
      offset + (o['byteLength'] as number) > optimizerBytes
    ) {
      return `trainer-state.json places optimizer ${o['group']} at bytes ${JSON.stringify(o['byteOffset'])}+${JSON.stringify(o['byteLength'])}, outside optimizer.bin's ${optimizerBytes} bytes or not where the one before ends`;
    }
    const problem = weightSpecsProblem(
      o['weightSpecs'],
      o['byteLength'] as number,
      `trainer-state.json's optimizer ${o['group']}`,
    );
    if (problem) return problem;
    const beta = o['accBeta'];
    if (beta !== undefined && !(Array.isArray(beta) && beta.length === 2 && beta.every(isFiniteNumber)))
      return `trainer-state.json's optimizer ${o['group']} has a damaged Adam state`;
    offset += o['byteLength'] as number;
  }
  const classifier = domainClassifierProblem(
    value['domainClassifier'],
    stage.alignment?.method === 'dann',
    offset,
    optimizerBytes,
  );
  if (typeof classifier === 'string') return classifier;
  offset = classifier;
  if (offset !== optimizerBytes)
    return `trainer-state.json accounts for ${offset} bytes of optimizer.bin's ${optimizerBytes}`;
  return undefined;
}

/**
 * `adapt.method: dann`: the domain classifier's two byte ranges follow the
 * optimizers' in optimizer.bin, inside it, their specs adding up; absent
 * for any other stage. The offset after them, or a problem.
 */
function domainClassifierProblem(
  value: unknown,
  expected: boolean,
  offset: number,
  optimizerBytes: number,
): number | string {
  if (value === undefined && !expected) return offset;
  if (!expected) return "trainer-state.json holds a domain classifier, and the plan's stage trains none";
  if (!isRecord(value))
    return "trainer-state.json has no domain classifier, and the plan's stage trains one (adapt.method: dann)";
  let at = offset;
  for (const part of ['weights', 'optimizer'] as const) {
    const range = value[part];
    const what = `trainer-state.json's domain classifier ${part}`;
    if (
      !isRecord(range) ||
      range['byteOffset'] !== at ||
      !isCount(range['byteLength']) ||
      at + (range['byteLength'] as number) > optimizerBytes
    )
      return `${what} are not at bytes ${at}+ inside optimizer.bin's ${optimizerBytes} bytes`;
    const problem = weightSpecsProblem(range['weightSpecs'], range['byteLength'] as number, what);
    if (problem) return problem;
    const beta = range['accBeta'];
    if (beta !== undefined && !(Array.isArray(beta) && beta.length === 2 && beta.every(isFiniteNumber)))
      return `${what} has a damaged Adam state`;
    at += range['byteLength'] as number;
  }
  return at;
}

/** The checkpoint's weights fit the model they are to be loaded into: the same names and shapes (loadWeights would throw otherwise). */
export function weightsFitProblem(
  model: tf.LayersModel,
  specs: readonly tf.io.WeightsManifestEntry[],
): string | undefined {
  const declared = new Map(specs.map((s) => [s.name, s.shape]));
  for (const weight of model.weights) {
    const shape = declared.get(weight.originalName);
    if (!shape) return `model.json has no weight ${weight.originalName}, which the plan's model has`;
    if (shape.length !== weight.shape.length || shape.some((d, i) => d !== weight.shape[i]))
      return `model.json gives weight ${weight.originalName} shape [${shape.join(', ')}], the plan's model [${weight.shape.join(', ')}]`;
    declared.delete(weight.originalName);
  }
  const extra = [...declared.keys()];
  return extra.length > 0
    ? `model.json has weight(s) the plan's model does not: ${extra.slice(0, 3).join(', ')}`
    : undefined;
}
