/**
 * The witnesses of a verify report as table rows: what each one alone says served the run, and
 * its figures.
 */
import {SERVED_THRESHOLD} from './counters.js';
import type {BindingEvidence, CounterEvidence, SamplesEvidence, VerifyReport} from './index.js';
import {glibcDidTheWork} from './judge.js';

const number = (value: number): string => value.toLocaleString('en-US');
const percent = (share: number, digits = 1): string => `${(share * 100).toFixed(digits)}%`;
const fileName = (path: string | null): string => path?.split('/').pop() ?? 'nothing';

function countersSay(witness: CounterEvidence, tiers: VerifyReport['tiers']): string {
  if (!witness.loaded) return 'not loaded';
  const short = witness.tiers.some((tier) => tiers.includes(tier.tier) && tier.share !== null && tier.share < SERVED_THRESHOLD);
  return short ? 'glibc' : 'hakmem';
}

function countersFigures(witness: CounterEvidence, tiers: VerifyReport['tiers']): string {
  if (!witness.loaded) return 'no stats file was written: libhakmem.so did not run in the process';
  const shown = witness.tiers.filter((tier) => tiers.includes(tier.tier) || tier.served + tier.handedToLibc > 0);
  const bound = witness.exact ? '' : 'at most ';
  const lines = [witness.source];
  for (const tier of shown) {
    const share = tier.share === null ? 'no requests' : `${tier.handedToLibc === 0 ? '' : bound}${percent(tier.share)} by hakmem`;
    lines.push(`${tier.tier}: ${bound}${number(tier.served)} served, ${number(tier.handedToLibc)} to glibc (${share})`);
  }

  const wrap = witness.wrapTiny === null ? 'unknown' : witness.wrapTiny ? 'on' : 'off';
  const compiled = witness.wrapTinyCompiled === witness.wrapTiny ? '' : ` (compiled ${witness.wrapTinyCompiled ? 'on' : 'off'}; HAKMEM_WRAP_TINY overrides)`;
  lines.push(`wrap-tiny ${wrap}${compiled}; frees passed to glibc: ${number(witness.libcFrees)}`);
  if (witness.segmapCompact) lines.push('segment map: compact (the process started under an address-space limit below 4 GiB; every free looks its page up out of line)');
  return lines.join('\n');
}

function bindingSays(binding: BindingEvidence): string {
  if (binding.noDynamicLoader) return 'static';
  return binding.allocator ?? 'unknown';
}

function bindingFigures(binding: BindingEvidence): string {
  if (binding.noDynamicLoader) return 'the loader logged nothing: a statically linked program, which LD_PRELOAD cannot reach';
  return `the program's malloc -> ${fileName(binding.mallocLibrary)}, free -> ${fileName(binding.freeLibrary)}`;
}

function samplesSay(samples: SamplesEvidence): string {
  if (samples.status === 'skipped') return 'skipped';
  if (glibcDidTheWork(samples)) return 'glibc';
  // The allocator whose code took the most samples.
  const owners = new Map<string, number>();
  for (const [category, share] of Object.entries(samples.categories)) {
    const owner = category.startsWith('hakmem') ? 'hakmem' : ['mimalloc', 'jemalloc', 'tcmalloc'].includes(category) ? category : null;
    if (owner) owners.set(owner, (owners.get(owner) ?? 0) + (share ?? 0));
  }

  const [top] = [...owners.entries()].sort((a, b) => b[1] - a[1]);
  return top ? top[0] : 'no allocator';
}

function samplesFigures(samples: SamplesEvidence): string {
  if (samples.status === 'skipped') return samples.reason;
  const glibc = samples.glibcSymbols.length > 0 ? ` (${samples.glibcSymbols.slice(0, 3).join(', ')})` : '';
  const top = samples.hotspots.map((hotspot) => `${hotspot.symbol} [${hotspot.library}] ${percent(hotspot.share, 0)}`).join(', ');
  return [
    `${number(samples.samples)} ${samples.event} samples at ${samples.frequency} Hz`,
    `glibc malloc internals ${percent(samples.glibcMallocShare)}${glibc}; libhakmem.so ${percent(samples.hakmemShare)}`,
    `top: ${top}`,
  ].join('\n');
}

/** Rows of [witness, what it says served, its figures]. */
export function witnessRows(report: VerifyReport): string[][] {
  const {counters, variantCounters, binding, samples} = report.witnesses;
  const counterName = (witness: CounterEvidence): string => (variantCounters ? `hakmem counters\n(${witness.build === 'twin' ? 'stats-1 twin' : 'tested build'})` : 'hakmem counters');
  const rows = [[counterName(counters), countersSay(counters, report.tiers), countersFigures(counters, report.tiers)]];
  if (variantCounters) rows.push([counterName(variantCounters), countersSay(variantCounters, report.tiers), countersFigures(variantCounters, report.tiers)]);
  rows.push(['loader binding', bindingSays(binding), bindingFigures(binding)]);
  rows.push(['perf samples', samplesSay(samples), samplesFigures(samples)]);
  return rows;
}
