import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import type { PlanInputs } from '../types.js';

/**
 * The class names, in label order: the file's, else the data's (image
 * folder names), else the label numbers. Problems: a name count that is not
 * the class count found in the labels, and fewer than 2 classes.
 */
export function resolveClasses(spec: PipelineSpec, inputs: PlanInputs): { names: string[]; diagnostics: Diagnostic[] } {
  const { numClasses } = inputs.dataset;
  const names =
    spec.dataset.classNames ?? inputs.dataset.classNames ?? Array.from({ length: numClasses }, (_, i) => String(i));
  const diagnostics: Diagnostic[] = [];
  const error = (path: Diagnostic['path'], message: string, hint?: string): void => {
    diagnostics.push({ file: spec.file, path, message, hint, severity: 'error' });
  };
  if (names.length !== numClasses) {
    error(
      ['dataset', 'classNames'],
      `the labels have ${numClasses} classes, but ${names.length} names are given`,
      'give one name per class, in label order',
    );
  }
  if (numClasses < 2) {
    error(['dataset'], `the training labels have ${numClasses} class; classification needs at least 2`);
  }
  return { names, diagnostics };
}
