import { listZoo, type ZooListing } from '../engine/model/zoo.js';
import { ok, type Outcome } from './types.js';

export type { ZooListing } from '../engine/model/zoo.js';

/**
 * The zoo: each entry, whether it is here (offline, or downloaded into the
 * cache), its input, default cut, layers and weights. An entry that cannot
 * be loaded is listed with its `problem`, not reported as a diagnostic: the
 * listing itself succeeded.
 */
export async function listModels(): Promise<Outcome<ZooListing[]>> {
  return ok(listZoo());
}
