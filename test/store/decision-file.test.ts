import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { parseDecision } from '../../src/store/decision-file.js';

const labels = ['four', 'nine'];
const bytes = (text: string) => new TextEncoder().encode(text);

describe('decision.json read back: what would change every answer is checked, not trusted', () => {
  const refused: { name: string; text: string; message: RegExp }[] = [
    {
      name: 'a negative temperature',
      text: '{"temperature": -1}',
      message: /temperature is -1; it must be a number from 0.01 to 100/,
    },
    { name: 'a zero temperature', text: '{"temperature": 0}', message: /temperature is 0/ },
    { name: 'a huge temperature', text: '{"temperature": 1e6}', message: /temperature is 1000000/ },
    {
      name: 'an infinite temperature (1e999 parses as Infinity)',
      text: '{"temperature": 1e999}',
      message: /temperature/,
    },
    { name: 'NaN (not JSON)', text: '{"temperature": NaN}', message: /is not valid JSON/ },
    {
      name: 'a temperature as a string',
      text: '{"temperature": "2"}',
      message: /is not a decision rule \(at \/temperature/,
    },
    {
      name: 'a threshold above 1',
      text: '{"threshold": {"positive": "nine", "value": 1.5, "metric": "f1"}}',
      message: /threshold is 1.5; it must be a probability from 0 to 1/,
    },
    {
      name: 'an unknown positive class',
      text: '{"threshold": {"positive": "seven", "value": 0.4, "metric": "f1"}}',
      message: /positive class `seven` is not one of the model's classes \(four, nine\)/,
    },
    {
      name: 'an unknown metric',
      text: '{"threshold": {"positive": "nine", "value": 0.4, "metric": "accuracy"}}',
      message: /is not a decision rule \(at \/threshold\/metric/,
    },
    { name: 'abstain at 1', text: '{"abstain": 1}', message: /abstain is 1; it must be a confidence between 0 and 1/ },
    { name: 'an unknown key', text: '{"temperature": 2, "bias": 3}', message: /is not a decision rule/ },
    { name: 'a list', text: '[]', message: /is not a decision rule \(the whole file/ },
  ];
  for (const c of refused)
    it(`refuses ${c.name}`, () => {
      assert.throws(
        () => parseDecision(bytes(c.text), 'model/decision.json', labels),
        (error: unknown) =>
          error instanceof UserError && c.message.test(error.message) && /decision\.json/.test(error.message),
      );
    });

  it('a threshold on a model with three classes is refused', () => {
    assert.throws(
      () =>
        parseDecision(bytes('{"threshold": {"positive": "a", "value": 0.5, "metric": "f1"}}'), 'd.json', [
          'a',
          'b',
          'c',
        ]),
      /decides between two classes, and the model has 3/,
    );
  });

  it('reads what tlpipe writes', () => {
    const rule = {
      temperature: 2.5,
      threshold: { positive: 'nine', value: 0.37, metric: 'precisionAtRecall', recall: 0.9 },
      abstain: 0.6,
    };
    assert.deepEqual(parseDecision(bytes(JSON.stringify(rule)), 'd.json', labels), rule);
  });
});
