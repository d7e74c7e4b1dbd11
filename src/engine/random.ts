import { SeededRandom } from '../plan/seeded-random.js';

// The generator lives with the planner, which draws a random sweep's trials with it; the engine's streams are built on it.
export { SeededRandom };

/**
 * The run's random streams by purpose (shuffling, augmentation, each
 * dropout layer), all derived from the pipeline's seed. A checkpoint
 * records every stream's state so a resumed run draws what the
 * uninterrupted run would have.
 */
export class RandomStreams {
  private readonly streams = new Map<string, SeededRandom>();

  constructor(private readonly seed: number) {}

  get(purpose: string): SeededRandom {
    let stream = this.streams.get(purpose);
    if (!stream) {
      stream = new SeededRandom(this.seed).fork(purpose);
      this.streams.set(purpose, stream);
    }
    return stream;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.streams].map(([purpose, stream]) => [purpose, stream.snapshot()]));
  }

  restore(states: Record<string, number>): void {
    for (const [purpose, state] of Object.entries(states)) this.get(purpose).restore(state);
  }
}
