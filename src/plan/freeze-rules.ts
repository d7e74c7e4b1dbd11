/**
 * Freeze rules: which base layers keep their pretrained weights. Pure: a
 * list of layer names in, a set of trainable names out.
 *
 * A rule is one of:
 *   - `all` / `none`                  every base layer
 *   - `block_16_project`              a layer name
 *   - `block_1[3-6]_*`                a glob (* ? [..])
 *   - `/_BN$/`                        a regular expression
 *   - `[0, 100)`, `[-20, end)`, `[3, 7]`   an index range; negatives count from the top
 *   - `{ from: block_13_expand }`     that layer and everything above it
 */
import { closestMatches } from '../diagnostics/did-you-mean.js';

export type FreezeRule = string | { from: string };

export interface RuleMatch {
  /** The rule's index in its list, for error positions. */
  index: number;
  matched: string[];
}

export interface RuleProblem {
  index: number;
  message: string;
  hint?: string;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i);
      if (end < 0) source += '\\[';
      else {
        source += `[${glob.slice(i + 1, end).replace(/^!/, '^')}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

const RANGE = /^([[(])\s*(-?\d+)\s*,\s*(-?\d+|end)?\s*([\])])$/;

/** The layers one rule selects, or a problem explaining why it cannot apply. */
export function matchRule(rule: FreezeRule, layers: readonly string[]): string[] | { message: string; hint?: string } {
  if (typeof rule === 'object') {
    const at = layers.indexOf(rule.from);
    return at < 0 ? { message: `no base layer named \`${rule.from}\`` } : layers.slice(at);
  }
  if (rule === 'all' || rule === 'none') return [...layers];
  const range = rule.match(RANGE);
  if (range) {
    const resolve = (n: number): number => (n < 0 ? layers.length + n : n);
    const start = resolve(Number(range[2]!)) + (range[1] === '(' ? 1 : 0);
    const end =
      range[3] === undefined || range[3] === 'end'
        ? layers.length
        : resolve(Number(range[3])) + (range[4] === ']' ? 1 : 0);
    return layers.slice(Math.max(0, start), Math.max(0, Math.min(layers.length, end)));
  }
  if (rule.length > 2 && rule.startsWith('/') && rule.endsWith('/')) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(rule.slice(1, -1));
    } catch (error) {
      return { message: `not a valid regular expression: ${(error as Error).message}` };
    }
    return layers.filter((name) => pattern.test(name));
  }
  if (/[*?[]/.test(rule)) {
    const pattern = globToRegExp(rule);
    return layers.filter((name) => pattern.test(name));
  }
  return layers.includes(rule) ? [rule] : [];
}

const showRule = (rule: FreezeRule): string => (typeof rule === 'string' ? rule : `from: ${rule.from}`);

/**
 * The one resolver of layer selectors — freeze rules, a stage's `unfreeze`
 * and `freeze`, a learning-rate multiplier's `layers`: the base layers it
 * names, or why it names none, with the nearest layer names as the hint.
 * `none` names no layer and is never a problem.
 */
export function resolveSelector(
  rule: FreezeRule,
  layers: readonly string[],
): { ok: true; names: string[] } | { ok: false; message: string; hint: string } {
  const matched = matchRule(rule, layers);
  const near = (text: string): string => {
    // A glob is compared by its literal start with the layer names cut to that length: `blok_16_*` is near `block_16_…`.
    const literal = text.split(/[*?[]/)[0]!;
    const isGlob = literal !== text;
    const prefixes =
      isGlob && literal.length > 0
        ? closestMatches(literal, new Set(layers.map((l) => l.slice(0, literal.length + 1))), 2)
        : [];
    const names = isGlob
      ? [...new Set(prefixes.flatMap((p) => layers.filter((l) => l.startsWith(p))))].slice(0, 3)
      : closestMatches(text, layers, 3);
    return names.length > 0
      ? `nearest layer names: ${names.join(', ')}`
      : `base layers run from ${layers[0]} to ${layers[layers.length - 1]}`;
  };
  if (!Array.isArray(matched))
    return {
      ok: false,
      message: `\`${showRule(rule)}\`: ${matched.message}`,
      hint: matched.hint ?? near(typeof rule === 'string' ? rule : rule.from),
    };
  if (rule === 'none') return { ok: true, names: [] };
  if (matched.length === 0)
    return {
      ok: false,
      message: `\`${showRule(rule)}\` matches no base layer`,
      hint: near(typeof rule === 'string' ? rule.replace(/^\/|\/$/g, '') : rule.from),
    };
  return { ok: true, names: matched };
}

export interface TrainableChange {
  /** `freeze` rules make layers frozen; `unfreeze` rules make them trainable. */
  kind: 'freeze' | 'unfreeze';
  rules: readonly FreezeRule[];
}

/**
 * Applies rule lists in order to a starting set of trainable layers. A rule
 * that selects nothing is a problem (a typo would silently freeze nothing),
 * reported with the nearest layer names by the caller.
 */
export function applyFreezeRules(
  layers: readonly string[],
  trainable: ReadonlySet<string>,
  changes: readonly TrainableChange[],
): { trainable: Set<string>; problems: (RuleProblem & { kind: TrainableChange['kind'] })[] } {
  const result = new Set(trainable);
  const problems: (RuleProblem & { kind: TrainableChange['kind'] })[] = [];
  for (const change of changes) {
    change.rules.forEach((rule, index) => {
      const resolved = resolveSelector(rule, layers);
      if (!resolved.ok) {
        problems.push({ index, kind: change.kind, message: resolved.message, hint: resolved.hint });
        return;
      }
      for (const name of resolved.names) {
        if (change.kind === 'freeze') result.delete(name);
        else result.add(name);
      }
      if (rule === 'none' && change.kind === 'freeze') for (const name of layers) result.add(name);
    });
  }
  return { trainable: result, problems };
}

/**
 * The blocks (groups of layers sharing a name prefix, such as MobileNetV2's
 * block_13_*) that a trainable set cuts through: part trainable, part
 * frozen. Splitting a residual block is legal but rarely intended.
 */
export function splitBlocks(layers: readonly string[], trainable: ReadonlySet<string>, blockPattern: RegExp): string[] {
  const blocks = new Map<string, { trainable: number; total: number }>();
  for (const name of layers) {
    const block = name.match(blockPattern)?.[1];
    if (!block) continue;
    const entry = blocks.get(block) ?? { trainable: 0, total: 0 };
    entry.total++;
    if (trainable.has(name)) entry.trainable++;
    blocks.set(block, entry);
  }
  return [...blocks].filter(([, b]) => b.trainable > 0 && b.trainable < b.total).map(([block]) => block);
}
