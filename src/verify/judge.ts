/**
 * The verdict on who served a run, from its witnesses. hak verify and hak bench both judge
 * with this one function, so a benchmark result is never called hakmem's on weaker evidence
 * than `hak verify` demands.
 *
 * Pass: libhakmem.so was loaded, the loader bound the program's malloc to it (when that was
 * traced), hakmem served at least 99% of the requests of every tier the benchmark's sizes
 * fall into, and (when sampled) glibc's malloc internals are not where the time went.
 */
import type {AllocatorName} from '../allocators.js';
import type {BindingWitness} from './binding.js';
import {type CounterWitness, SERVED_THRESHOLD, type Tier} from './counters.js';

/** What a profile of the run (perf samples) says; produced by the perf witness. */
export interface SamplesWitness {
  event: string;
  samples: number;
  /** Share of samples in glibc's allocator internals (_int_malloc, _int_free, malloc in libc...). */
  glibcMallocShare: number;
  /** Share of samples in libhakmem.so. */
  hakmemShare: number;
  /** The glibc allocator symbols seen, most samples first, e.g. "_int_free 26%". */
  glibcSymbols: string[];
}

/** Above this share of samples in glibc's allocator internals, glibc did the work. */
export const GLIBC_SAMPLE_LIMIT = 0.05;
/**
 * ...and only when they hold at least this many samples (4 ms at perf's 4999 Hz): a process
 * that lives a few milliseconds has a handful of samples, and one of them can land in glibc's
 * allocator while hakmem starts up (what it allocates while it initialises is glibc's by design).
 */
export const GLIBC_SAMPLE_MIN = 20;

/** Whether the samples say glibc's allocator did the work. */
export function glibcDidTheWork(samples: SamplesWitness): boolean {
  return samples.glibcMallocShare > GLIBC_SAMPLE_LIMIT && samples.samples * samples.glibcMallocShare >= GLIBC_SAMPLE_MIN;
}

export interface ServedEvidence {
  counters: CounterWitness;
  binding: BindingWitness | null;
  samples: SamplesWitness | null;
  /** The tiers the benchmark's request sizes fall into. */
  tiers: Tier[];
  /** The request sizes, for the cause ("16-1039 B"). */
  sizes: {min: number; max: number} | null;
}

export interface ServedVerdict {
  verdict: 'pass' | 'fail';
  /** Who served, as far as the witnesses tell. */
  servedBy: AllocatorName | 'other' | 'unknown';
  /** Why it failed, in words; null on pass. */
  cause: string | null;
}

const percent = (x: number): string => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 0)}%`;

function sizeRange(sizes: ServedEvidence['sizes'], tier: Tier): string {
  if (sizes) return sizes.min === sizes.max ? `${sizes.min} B` : `${sizes.min}-${sizes.max} B`;
  return `${tier}-tier`;
}

/** The glibc symbols that took the most samples: "_int_free 21%, cfree 17%, malloc 14%". */
function glibcSymbolList(samples: SamplesWitness): string {
  return samples.glibcSymbols.slice(0, 3).join(', ');
}

function samplesNote(samples: SamplesWitness | null): string {
  if (!samples || samples.samples === 0 || samples.glibcSymbols.length === 0) return '';
  return ` (glibc's malloc internals ${percent(samples.glibcMallocShare)} of ${samples.event} samples: ${glibcSymbolList(samples)})`;
}

export function judgeServed(evidence: ServedEvidence): ServedVerdict {
  const {counters, binding, samples} = evidence;
  const fail = (servedBy: ServedVerdict['servedBy'], cause: string): ServedVerdict => ({verdict: 'fail', servedBy, cause});

  if (binding?.allocator && binding.allocator !== 'hakmem' && binding.allocator !== 'glibc') {
    const library = binding.mallocLibrary?.split('/').pop() ?? binding.allocator;
    return fail(binding.allocator, `another allocator (${library}) is preloaded: the program's malloc is bound to it`);
  }

  if (!counters.loaded) {
    if (binding?.noDynamicLoader) return fail('glibc', 'libhakmem.so was not loaded: the program is statically linked, so LD_PRELOAD cannot reach it');
    return fail('glibc', 'libhakmem.so was not loaded (static binary, setuid, or LD_PRELOAD dropped): no hakmem counters were written' +
      (binding?.allocator === 'glibc' ? ` and malloc is bound to ${binding.mallocLibrary?.split('/').pop() ?? 'libc.so.6'}` : ''));
  }

  if (binding && binding.allocator === 'glibc') {
    return fail('glibc', `the program's malloc is bound to ${binding.mallocLibrary?.split('/').pop() ?? 'libc.so.6'}, not libhakmem.so, although the library was loaded`);
  }

  for (const tier of evidence.tiers) {
    const witness = counters.tiers.find((t) => t.tier === tier);
    if (!witness || witness.share === null || witness.share >= SERVED_THRESHOLD) continue;
    const toLibc = 1 - witness.share;
    if (tier === 'tiny' && counters.wrapTiny === false) {
      return fail('glibc', `wrap-tiny is off: ${percent(toLibc)} of ${sizeRange(evidence.sizes, tier)} requests went to glibc${samplesNote(samples)}`);
    }
    return fail(witness.share === 0 ? 'glibc' : 'unknown',
      `hakmem served only ${percent(witness.share)} of ${tier} requests (${sizeRange(evidence.sizes, tier)}); ${witness.handedToLibc} went to glibc${samplesNote(samples)}`);
  }

  if (samples && glibcDidTheWork(samples)) {
    return fail('unknown', `glibc's malloc internals took ${percent(samples.glibcMallocShare)} of ${samples.event} samples (${glibcSymbolList(samples)}) although hakmem's counters show it serving`);
  }

  return {verdict: 'pass', servedBy: 'hakmem', cause: null};
}
