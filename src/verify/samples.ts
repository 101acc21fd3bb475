/**
 * The sample witness: where perf's samples of the run landed, grouped by library and symbol.
 * It trusts nothing hakmem says about itself: glibc's malloc internals (_int_malloc, _int_free,
 * malloc in libc.so.6, ...) taking the time means glibc served, whatever the counters claim.
 */
import {baseSymbol, isGlibcMallocSymbol} from '../perf/owners.js';
import type {PerfReport} from '../perf/report.js';
import {allocatorOfLibrary} from './binding.js';
import type {SamplesWitness} from './judge.js';

const percent = (share: number): string => `${Math.round(share * 100)}%`;

export function samplesWitness(report: PerfReport): SamplesWitness {
  let glibcMallocShare = 0;
  let hakmemShare = 0;
  const glibc = new Map<string, number>();
  for (const row of report.rows) {
    if (allocatorOfLibrary(row.library) === 'hakmem') hakmemShare += row.share;
    if (!isGlibcMallocSymbol(row.symbol, row.library)) continue;
    glibcMallocShare += row.share;
    const name = baseSymbol(row.symbol);
    glibc.set(name, (glibc.get(name) ?? 0) + row.share);
  }

  return {
    event: report.event ?? 'unknown',
    samples: report.samples,
    glibcMallocShare,
    hakmemShare,
    glibcSymbols: [...glibc.entries()].sort((a, b) => b[1] - a[1]).map(([name, share]) => `${name} ${percent(share)}`),
  };
}
