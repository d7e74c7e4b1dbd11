/**
 * What `npm run bench` says of its PyTorch peer and of each ratio: the
 * BLAS and oneDNN state bench/peer_runtime.py found in the peer's process,
 * whether ratios against it are worth printing, and the goals of issue 29
 * each ratio is held to.
 */

/** bench/peer_runtime.py's describe(). */
export interface PeerDescription {
  torch: string;
  threads: number;
  blas: { api: string; version?: string; threads?: number; library?: string; libraries?: string[] };
  onednn: { available: boolean; enabled: boolean; on: boolean; library: string | null };
  flushDenormal?: boolean;
  ompWaitPolicy?: string;
}

/** BLAS libraries a user would run PyTorch on; the reference BLAS (or one not found) is not among them. */
const TUNED_BLAS = new Set(['openblas', 'mkl', 'blis', 'flexiblas']);
/** tlpipe's feature extraction uses two workers; the peer gets as many threads. */
export const PEER_THREADS = 2;

export const INSTALL_PEER =
  'sudo apt-get install python3-torch python3-torchvision libopenblas0-pthread python3-threadpoolctl ' +
  "(Debian's alternatives then point libblas.so.3 at OpenBLAS: update-alternatives --display libblas.so.3-x86_64-linux-gnu)";

/**
 * The OpenMP wait policy the peer runs with unless OMP_WAIT_POLICY is set. Under load, libgomp's
 * default spinning starves the peer's second thread: measured at load 11–13 on 2 CPUs, MobileNetV2
 * at 96×96, batch 32, 2 threads: 4.0–4.7 img/s spinning (5.1 CPU-s per 3 batches) against
 * 54–58 img/s PASSIVE (0.49 CPU-s) and 28–34 img/s on one thread.
 */
export const PEER_OMP_WAIT_POLICY = 'PASSIVE';

/** One line for beside every ratio: which BLAS and oneDNN the peer ran on. */
export function peerSummary(peer: PeerDescription): string {
  const blas =
    peer.blas.api === 'unknown'
      ? `BLAS not identified (${(peer.blas.libraries ?? []).join(', ') || 'none mapped'})`
      : `${peer.blas.api}${peer.blas.version ? ` ${peer.blas.version}` : ''}${peer.blas.threads !== undefined ? ` (${peer.blas.threads} threads)` : ''}`;
  const onednn = peer.onednn.on
    ? `oneDNN on${peer.onednn.library ? ` (${peer.onednn.library.split('/').pop()})` : ''}`
    : 'oneDNN off';
  const wait = peer.ompWaitPolicy ? `, OMP_WAIT_POLICY ${peer.ompWaitPolicy}` : '';
  return `torch ${peer.torch}, ${peer.threads} threads, ${blas}, ${onednn}${wait}${peer.flushDenormal ? ', denormals flushed' : ''}`;
}

/** Why ratios against this peer would flatter tlpipe, or undefined when it is the fast PyTorch a user gets. */
export function peerWeakness(peer: PeerDescription): string | undefined {
  const problems: string[] = [];
  if (!TUNED_BLAS.has(peer.blas.api))
    problems.push(
      peer.blas.api === 'reference'
        ? `it runs on the reference BLAS (${peer.blas.library ?? 'libblas.so.3'})`
        : `its BLAS could not be identified (mapped: ${(peer.blas.libraries ?? []).join(', ') || 'none'})`,
    );
  if (!peer.onednn.on) problems.push('oneDNN (MKL-DNN) is off, so its convolutions take the slow path');
  if (peer.threads !== PEER_THREADS) problems.push(`it runs ${peer.threads} threads, not ${PEER_THREADS}`);
  return problems.length > 0 ? `the PyTorch peer is not the fast PyTorch: ${problems.join('; ')}` : undefined;
}

/** The message `npm run bench` stops with when the peer is weak and BENCH_ALLOW_REFERENCE_BLAS is not 1. */
export function refusal(weakness: string): string {
  return (
    `npm run bench: ${weakness}.\nRatios against it would flatter tlpipe, so none are printed. Install OpenBLAS for Debian's torch:\n  ${INSTALL_PEER}\n` +
    'or set BENCH_ALLOW_REFERENCE_BLAS=1 to print the ratios anyway (each marked with the peer it was measured against).'
  );
}

interface Goal {
  /** As the issue states it. */
  goal: string;
  met: (ratio: number) => boolean;
}

const atMost = (bound: number): Goal => ({
  goal: `≤ ${bound.toFixed(2)}× PyTorch's wall time`,
  met: (r) => r <= bound,
});
const atLeast = (bound: number): Goal => ({
  goal: `≥ ${bound.toFixed(2)}× PyTorch's images/s`,
  met: (r) => r >= bound,
});

/** Issue 29's goals, by case name: end-to-end ratios are seconds (lower is better), per-step ones images/s. */
export const GOALS: Record<string, Goal> = {
  seed_cnn_epoch: atMost(1.0),
  two_stage_e2e: atMost(1.0),
  frozen_head_e2e: atMost(0.5),
  finetune_top3_96_augmented: atLeast(0.5),
  features_96_2_workers: atLeast(0.75),
  features_224_2_workers: atLeast(0.75),
};

/** The goal a ratio is held to and whether it is met, for the case's JSON entry. */
export function goalOf(name: string, ratio: number): { goal: string; met: boolean } | undefined {
  const goal = GOALS[name];
  return goal ? { goal: goal.goal, met: goal.met(ratio) } : undefined;
}
