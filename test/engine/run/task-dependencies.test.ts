import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runPlan } from '../../../src/engine/run/run-plan.js';
import type { RunInputs } from '../../../src/engine/facts/gather-facts.js';
import type { RunOutput } from '../../../src/engine/train/checkpoints.js';
import { dependencyProblems, unmetReads } from '../../../src/engine/run/task-dependencies.js';
import { TaskResults, type Features } from '../../../src/engine/run/task-results.js';
import type { Plan, PlanTask } from '../../../src/plan/types.js';
import { planOf } from './plan-fixture.js';

const ONE_STAGE = ['{ name: a, epochs: 1 }'];
/** A head stage, a fine-tuning stage on a frozen prefix, a head stage on the features of the base it left. */
const THREE_STAGES = [
  '{ name: a, epochs: 1 }',
  "{ name: tune, epochs: 1, unfreeze: ['conv2'] }",
  "{ name: c, epochs: 1, freeze: ['conv2'] }",
];

/** `plan` with `edit` applied to a copy of its task `id`. */
function edited(plan: Plan, id: string, edit: (task: PlanTask & Record<string, unknown>) => void): Plan {
  return {
    ...plan,
    tasks: plan.tasks.map((t) =>
      t.id === id
        ? (() => {
            const copy = structuredClone(t) as PlanTask & Record<string, unknown>;
            edit(copy);
            return copy;
          })()
        : t,
    ),
  };
}

describe("the plan's dependencies, checked before a run starts", () => {
  const fitting: { name: string; plan: () => Plan }[] = [
    { name: 'one head stage', plan: () => planOf(ONE_STAGE) },
    {
      name: 'head, fine-tuning on a frozen prefix, head again, with a scratch baseline',
      plan: () => planOf(THREE_STAGES, 'baseline: scratch'),
    },
    {
      name: 'a stage that fine-tunes everything, on images',
      plan: () => planOf(["{ name: all, epochs: 1, unfreeze: ['*'] }"]),
    },
  ];
  for (const c of fitting) {
    it(`a compiled plan fits: ${c.name}`, () => {
      assert.deepEqual(dependencyProblems(c.plan()), []);
    });
  }

  const broken: { name: string; plan: () => Plan; problem: RegExp }[] = [
    {
      name: 'a dependency on a later task',
      plan: () => edited(planOf(ONE_STAGE), 'train:a', (t) => t.dependsOn.push('export')),
      problem: /^task train:a depends on export, which is not an earlier task$/,
    },
    {
      name: 'a dependency no task is',
      plan: () => edited(planOf(ONE_STAGE), 'features:a', (t) => (t.dependsOn = ['data', 'nope'])),
      problem: /^task features:a depends on nope, which is not an earlier task$/,
    },
    {
      name: 'a stage without the data task',
      plan: () => edited(planOf(ONE_STAGE), 'train:a', (t) => (t.dependsOn = ['head', 'features:a'])),
      problem: /^task train:a reads the examples, but depends on no data task$/,
    },
    {
      name: 'a stage that does not depend on the features it trains on',
      plan: () => edited(planOf(ONE_STAGE), 'train:a', (t) => (t.dependsOn = ['head', 'data'])),
      problem: /^task train:a reads the features of features:a, but does not depend on features:a$/,
    },
    {
      name: 'a stage whose features are another kind of task',
      plan: () => edited(planOf(ONE_STAGE), 'train:a', (t) => (t['features'] = 'head')),
      problem: /^task train:a reads the features of head, but head is a head task$/,
    },
    {
      name: 'evaluation on features with no features task',
      plan: () =>
        edited(planOf(ONE_STAGE), 'evaluate', (t) => {
          t.dependsOn = ['train:a', 'data'];
          delete t['features'];
        }),
      problem: /^task evaluate reads features, but depends on no features task$/,
    },
    {
      name: 'two dependencies of one kind',
      plan: () => edited(planOf(THREE_STAGES), 'export', (t) => t.dependsOn.push('train:tune')),
      problem: /^task export depends on two train tasks \(train:c, train:tune\); it can read one$/,
    },
    {
      name: 'no head task',
      plan: () => ({ ...planOf(ONE_STAGE), tasks: planOf(ONE_STAGE).tasks.filter((t) => t.kind !== 'head') }),
      problem: /^task features:a uses the models, which no head task builds before it$/,
    },
  ];
  for (const c of broken) {
    it(`a plan whose tasks do not fit is named: ${c.name}`, () => {
      const problems = dependencyProblems(c.plan());
      assert.ok(
        problems.some((p) => c.problem.test(p)),
        problems.join('\n'),
      );
    });
  }

  it('runPlan refuses such a plan before any task runs', async () => {
    const events: unknown[] = [];
    const plan = edited(planOf(ONE_STAGE), 'train:a', (t) => (t.dependsOn = ['head', 'features:a']));
    // Nothing is built or read before the check: inputs and output are never touched.
    await assert.rejects(
      runPlan(plan, {} as RunInputs, { onEvent: (e) => events.push(e), output: {} as RunOutput }),
      /the plan's tasks do not fit together: task train:a reads the examples, but depends on no data task/,
    );
    assert.deepEqual(events, []);
  });
});

describe('a restored run: every output the tasks still to run read is made or restored', () => {
  const plan = planOf(THREE_STAGES);
  const indexes = (ids: string[]) => new Set(ids.map((id) => plan.tasks.findIndex((t) => t.id === id)));
  const setup = ['data', 'base', 'head'];
  const cases: { name: string; runs: string[]; restored: string[]; problems: RegExp[] }[] = [
    {
      name: 'from the last stage, the stages before it restored',
      runs: ['features:c', 'train:c', 'evaluate', 'export'],
      restored: [...setup, 'train:tune'],
      problems: [],
    },
    {
      name: 'from the last stage with nothing restored',
      runs: ['features:c', 'train:c', 'evaluate', 'export'],
      restored: setup,
      problems: [
        /^task train:c reads the stages trained before it from train:tune, which neither runs before it nor was restored$/,
      ],
    },
    {
      name: 'the features a stage trains on skipped',
      runs: ['train:c', 'evaluate', 'export'],
      restored: [...setup, 'train:tune'],
      problems: [
        /^task train:c reads the features of features:c from features:c/,
        /^task evaluate reads the features of features:c from features:c/,
      ],
    },
    {
      name: 'without the data task',
      runs: ['train:a', 'train:tune'],
      restored: ['head'],
      problems: [
        /^task train:a reads the examples from data/,
        /^task train:tune reads the examples from data/,
        /^task train:a reads the features of features:a/,
        /^task train:tune reads the features of prefix:tune/,
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const problems = unmetReads(plan, indexes(c.runs), (id) => c.restored.includes(id));
      assert.equal(problems.length, c.problems.length, problems.join('\n'));
      for (const expected of c.problems)
        assert.ok(
          problems.some((p) => expected.test(p)),
          `${expected} in\n${problems.join('\n')}`,
        );
    });
  }
});

describe('task results', () => {
  const plan = planOf(THREE_STAGES);
  const task = (id: string) => plan.tasks.find((t) => t.id === id)!;
  const freed: string[] = [];
  const features = (id: string): Features => ({ task: id, sources: {}, dispose: () => freed.push(id) });

  it('a task is given the outputs of its dependencies by their kind', () => {
    const results = new TaskResults(plan.tasks);
    const examples = {};
    const training = { stages: [], history: [] };
    results.set(task('data') as PlanTask & { kind: 'data' }, examples);
    results.set(task('prefix:tune') as PlanTask & { kind: 'features' }, features('prefix:tune'));
    results.set(task('train:a') as PlanTask & { kind: 'train' }, training);
    const inputs = results.inputsOf(task('train:tune') as PlanTask & { kind: 'train' });
    assert.equal(inputs.data, examples);
    assert.equal(inputs.train, training);
    assert.equal(inputs.features?.task, 'prefix:tune');
  });

  it('features are freed once no task still to run reads them, and the rest when the run ends', () => {
    freed.length = 0;
    const results = new TaskResults(plan.tasks);
    const later = (id: string) => plan.tasks.slice(plan.tasks.findIndex((t) => t.id === id) + 1);
    results.set(task('features:a') as PlanTask & { kind: 'features' }, features('features:a'));
    results.releaseUnread(later('features:a'));
    assert.deepEqual(freed, [], 'train:a reads them');
    results.releaseUnread(later('train:a'));
    assert.deepEqual(freed, ['features:a']);
    assert.equal(results.has('features:a'), false);
    results.set(task('features:c') as PlanTask & { kind: 'features' }, features('features:c'));
    results.releaseUnread(later('train:c'));
    assert.deepEqual(freed, ['features:a'], 'evaluate reads features:c');
    results.dispose();
    assert.deepEqual(freed, ['features:a', 'features:c']);
  });
});
