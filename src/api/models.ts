import { listZoo, type ZooListing } from '../engine/model/zoo.js';

export type { ZooListing } from '../engine/model/zoo.js';

/** The zoo: each entry, whether it is here (offline, or downloaded into the cache), its input, default cut, layers and weights. */
export function listModels(): ZooListing[] {
  return listZoo();
}
