/**
 * Who served a benchmark's allocations. Each hakmem run is judged on its own counters and the
 * loader's binding with judgeServed, the verdict `hak verify` uses; a hakmem result is verified
 * only when every measured run passed. A peer is checked against the loader's binding alone:
 * an allocator preloaded but not bound (a stale path, a static program) is caught too.
 */
import type {AllocatorName} from '../allocators.js';
import type {RunRecord} from '../run/index.js';
import type {BindingWitness} from '../verify/binding.js';
import {type CounterWitness, counterWitness, requestSizes, type Tier, tiersForSizes} from '../verify/counters.js';
import {judgeServed} from '../verify/judge.js';
import type {RunSample, TargetRecord} from './record.js';

/** The counters and the verdict of one hakmem run. */
export function judgeHakmemRun(run: RunRecord, binding: BindingWitness | null): Pick<RunSample, 'counters' | 'served'> {
  const counters = counterWitness(run.stats);
  const sizes = requestSizes(run.result.bench, run.result.params);
  return {counters, served: judgeServed({counters, binding, samples: null, tiers: judgedTiers(counters, sizes), sizes})};
}

/**
 * The tiers a run is judged on: those its request sizes fall into, or for a program that does
 * not say (any command), every tier that received requests.
 */
export function judgedTiers(counters: CounterWitness, sizes: {min: number; max: number} | null): Tier[] {
  if (sizes) return tiersForSizes(sizes.min, sizes.max);
  return counters.tiers.filter((tier) => tier.served + tier.handedToLibc > 0).map((tier) => tier.tier);
}

export interface ServedStatus {
  /** true: every measured run proven hakmem's; false: some were not; null: a peer (not judged). */
  verified: boolean | null;
  /** Who served, as far as the evidence tells. */
  servedBy: AllocatorName | 'other' | 'unknown' | null;
  /** Why the result is not the allocator's, in words; null when it is. */
  cause: string | null;
}

function libraryName(binding: BindingWitness): string {
  return binding.mallocLibrary?.split('/').pop() ?? String(binding.allocator);
}

/** The verdict on a whole target from its measured runs (hakmem) or its binding (peers). */
export function servedStatus(target: Pick<TargetRecord, 'allocator' | 'binding' | 'runs' | 'linked'>): ServedStatus {
  if (target.allocator !== 'hakmem') {
    const bound = target.binding?.allocator ?? null;
    // Nothing preloaded into a program that links an allocator itself: that allocator serves it, as the label says.
    if (target.linked && bound === target.linked.allocator) return {verified: null, servedBy: bound, cause: null};
    if (bound !== null && bound !== target.allocator) {
      return {verified: null, servedBy: bound, cause: `the program's malloc is bound to ${libraryName(target.binding!)}, not ${target.allocator}`};
    }

    return {verified: null, servedBy: bound ?? target.allocator, cause: null};
  }

  if (target.runs.length === 0) return {verified: false, servedBy: 'unknown', cause: 'no measured run completed'};
  const failed = target.runs.filter((run) => run.served?.verdict !== 'pass');
  if (failed.length === 0) return {verified: true, servedBy: 'hakmem', cause: null};
  const first = failed[0]!.served;
  const cause = first?.cause ?? 'no evidence of who served the run';
  const share = failed.length === target.runs.length ? 'every run' : `${failed.length} of ${target.runs.length} runs`;
  return {verified: false, servedBy: first?.servedBy ?? 'unknown', cause: `in ${share}, ${cause}`};
}

/** "tiny 100%, mid 100%": hakmem's share of the requests of each tier the benchmark's sizes reach. */
export function servedShares(sample: RunSample | undefined, program: string): string {
  if (!sample?.counters) return '';
  const sizes = requestSizes(program, sample.params);
  const tiers = sizes ? tiersForSizes(sizes.min, sizes.max) : [];
  const shares = sample.counters.tiers
    .filter((tier) => tier.share !== null && (tiers.length === 0 || tiers.includes(tier.tier)))
    .map((tier) => `${tier.tier} ${Math.floor(tier.share! * 1000) / 10}%`);
  return shares.join(', ');
}
