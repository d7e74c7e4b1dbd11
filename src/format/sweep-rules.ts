import type { KeyPath } from '../diagnostics/diagnostic.js';
import { parseKeyPath } from './overrides.js';
import type { RuleFinding } from './rules.js';
import type { PipelineFile, SweepAsWritten, SweepParameterAsWritten } from './schema.js';

/**
 * The checks on a file's `sweep:` that its schema cannot make: two kinds of
 * parameter at once, a range in a grid, a grid over its cap. Run with the
 * other rules on the file as written; each trial is then validated whole.
 */
export const sweepIsWellFormed = (file: PipelineFile): RuleFinding[] => (file.sweep ? sweepProblems(file.sweep) : []);

function sweepProblems(sweep: SweepAsWritten): RuleFinding[] {
  const findings: RuleFinding[] = [];
  const method = sweep.method ?? 'grid';
  for (const [name, p] of Object.entries(sweep.parameters)) {
    const at: KeyPath = ['sweep', 'parameters', name];
    if (!parseKeyPath(name))
      findings.push({
        path: at,
        key: true,
        message: `\`${name}\` is not a key path`,
        hint: 'write keys with dots and list items with [n], e.g. train.stages[0].optimizer.learningRate',
      });
    else if (name === 'sweep' || name.startsWith('sweep.') || name.startsWith('sweep['))
      findings.push({
        path: at,
        key: true,
        message: 'a sweep cannot set its own keys',
        hint: 'parameters are key paths into the rest of the pipeline',
      });
    const range = p.min !== undefined || p.max !== undefined;
    if (p.values && range) findings.push({ path: at, message: 'give either `values` or `min` and `max`, not both' });
    else if (!p.values && !range)
      findings.push({
        path: at,
        message: 'a parameter needs `values`, or `min` and `max`',
        hint: 'e.g. { values: [64, 128] } or { min: 0.0001, max: 0.01, distribution: logUniform }',
      });
    else if (range) findings.push(...rangeProblems(name, p, method));
    if (p.distribution !== undefined && !range)
      findings.push({
        path: [...at, 'distribution'],
        key: true,
        message: '`distribution` applies to `min` and `max` only',
        hint: '`values` are tried as listed',
      });
  }
  if (method === 'random' && sweep.runCap === undefined)
    findings.push({
      path: ['sweep', 'method'],
      message: 'a random sweep needs `runCap`: how many trials to draw',
      hint: 'e.g. runCap: 12',
    });
  if (method === 'grid') {
    const size = Object.values(sweep.parameters).reduce((n, p) => n * (p.values?.length ?? 1), 1);
    if (sweep.runCap !== undefined && size > sweep.runCap) {
      findings.push({
        path: ['sweep', 'runCap'],
        message: `the grid has ${size} trials, more than runCap ${sweep.runCap}`,
        hint: `raise runCap to ${size}, drop values, or use method: random to sample ${sweep.runCap} of them`,
      });
    }
  }
  const metric = sweep.metric?.name ?? 'val_accuracy';
  if (sweep.earlyTerminate && metric.startsWith('test_')) {
    findings.push({
      path: ['sweep', 'earlyTerminate'],
      message: `early termination compares trials by a validation metric per epoch, and ${metric} is measured only after training`,
      hint: 'use metric: { name: val_accuracy } (or val_loss)',
    });
  }
  return findings;
}

function rangeProblems(name: string, p: SweepParameterAsWritten, method: string): RuleFinding[] {
  const at: KeyPath = ['sweep', 'parameters', name];
  if (method === 'grid')
    return [
      {
        path: at,
        message: 'a grid tries listed values; `min` and `max` are drawn from by method: random',
        hint: 'list the values ({ values: [...] }), or set sweep.method: random',
      },
    ];
  if (p.min === undefined || p.max === undefined)
    return [{ path: at, message: `\`${p.min === undefined ? 'min' : 'max'}\` is missing: a range needs both` }];
  if (p.min > p.max) return [{ path: [...at, 'min'], message: `min ${p.min} is above max ${p.max}` }];
  if (p.distribution === 'logUniform' && p.min <= 0)
    return [{ path: [...at, 'min'], message: `logUniform draws in log space, so min must be above 0, got ${p.min}` }];
  if (p.distribution === 'int' && (!Number.isInteger(p.min) || !Number.isInteger(p.max)))
    return [{ path: at, message: 'distribution: int needs whole numbers for min and max' }];
  return [];
}
