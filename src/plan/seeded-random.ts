/**
 * A small seeded generator (mulberry32) for every choice tlpipe makes
 * outside tfjs: subsampling, splits, shuffling. Math.random is never used,
 * so the same seed gives the same run.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A uniform integer in [0, 2^31), for seeding tfjs initializers. */
  nextSeed(): number {
    return Math.floor(this.next() * 0x7fffffff);
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** The whole state, for a checkpoint; `restore` puts it back. */
  snapshot(): number {
    return this.state;
  }

  restore(state: number): void {
    this.state = state >>> 0;
  }

  /** An independent stream for one purpose, so adding a draw elsewhere does not shift this one. */
  fork(purpose: string): SeededRandom {
    let h = this.state ^ 0x9e3779b9;
    for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 0x01000193);
    return new SeededRandom(h >>> 0);
  }
}
