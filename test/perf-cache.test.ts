/** hak perf --cache: reading the simulator's figures, its geometry and the owners of misses, from recorded fixtures. */
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';

import {attributeCache, cacheFigures, cacheGeometry, cacheSimOptions, describeCacheLevels, FIXED_CACHE_GEOMETRY, hasCacheEvents} from '../src/perf/cache.js';
import {parseCallgrind} from '../src/perf/callgrind.js';
import type {AttributionContext} from '../src/perf/owners.js';
import {hardwareFigures, parsePerfStat} from '../src/perf/stat.js';
import {ROOT} from './helpers.js';

const fixture = (name: string): string => readFileSync(join(ROOT, 'test', 'fixtures', 'perf', name), 'utf8');
const randomMixed: AttributionContext = {program: 'random_mixed', tiers: ['tiny', 'mid']};
// random_mixed 20000 8192 1234567 16 1039: one operation per cycle
const OPS = 20_000;

describe('cache simulation output', () => {
  const hakmem = parseCallgrind(fixture('callgrind-cache-hakmem.out'));
  const tcmalloc = parseCallgrind(fixture('callgrind-cache-tcmalloc.out'));

  it('reads every event, and the functions add up to the totals event by event', () => {
    expect(hakmem.events).toEqual(['Ir', 'Dr', 'Dw', 'I1mr', 'D1mr', 'D1mw', 'ILmr', 'DLmr', 'DLmw', 'Bc', 'Bcm', 'Bi', 'Bim']);
    expect(hakmem.totals).toEqual([1_385_977, 253_195, 171_347, 65, 27_237, 6380, 65, 2056, 6299, 166_357, 11_379, 20_008, 6]);
    expect(hakmem.instructions).toBe(1_385_977);
    for (const [index] of hakmem.events.entries()) {
      expect(hakmem.functions.reduce((sum, fn) => sum + fn.costs[index]!, 0)).toBe(hakmem.totals[index]);
    }

    expect(hasCacheEvents(hakmem.events)).toBe(true);
    // a plain callgrind profile counts instructions only
    expect(hasCacheEvents(parseCallgrind(fixture('callgrind-hakmem.out')).events)).toBe(false);
  });

  it('gives the five figures per operation', () => {
    const perOp = cacheFigures(hakmem.events, hakmem.totals, OPS);
    expect(perOp.instructions).toBeCloseTo(1_385_977 / OPS, 9);
    expect(perOp.d1Misses).toBeCloseTo((27_237 + 6380) / OPS, 9);
    expect(perOp.d1ReadMisses).toBeCloseTo(27_237 / OPS, 9);
    expect(perOp.llMisses).toBeCloseTo((65 + 2056 + 6299) / OPS, 9);
    expect(perOp.branchMispredicts).toBeCloseTo((11_379 + 6) / OPS, 9);
    // events the profile lacks count nothing
    expect(cacheFigures(['Ir'], [10], 2)).toEqual({instructions: 5, d1Misses: 0, d1ReadMisses: 0, llMisses: 0, branchMispredicts: 0});
  });

  it('names the simulated geometry', () => {
    expect(cacheGeometry(hakmem.desc, 'host')).toEqual({
      levels: [
        {name: 'D1', bytes: 49_152, lineBytes: 64, ways: 12},
        {name: 'LL', bytes: 318_767_104, lineBytes: 64, ways: 38},
        {name: 'I1', bytes: 32_768, lineBytes: 64, ways: 8},
      ],
      description: 'D1 48 KiB 12-way, LL 304 MiB 38-way, I1 32 KiB 8-way, 64 B lines',
      source: 'host',
    });
    expect(cacheGeometry({'D1 cache': '32768 B, 64 B, 8-way associative', 'LL cache': '1048576 B, 128 B, 16-way associative'}, 'host')?.description).toBe(
      'D1 32 KiB 8-way 64 B lines, LL 1 MiB 16-way 128 B lines',
    );
    expect(cacheGeometry({Trigger: 'Program termination'}, 'host')).toBeNull();
  });

  // The `desc:` lines of callgrind-cache.out on several hosts: the fixture, its levels (name bytes line ways), and their description.
  const level = (text: string) => {
    const [name, bytes, lineBytes, ways] = text.split(' ');
    return {name, bytes: Number(bytes), lineBytes: Number(lineBytes), ways: Number(ways)};
  };
  const hosts = [
    ['desc-intel.txt', 'D1 49152 64 12, LL 318767104 64 38, I1 32768 64 8', 'D1 48 KiB 12-way, LL 304 MiB 38-way, I1 32 KiB 8-way, 64 B lines'],
    ['desc-amd-epyc.txt', 'D1 32768 64 8, LL 268435456 64 1, I1 65536 64 4', 'D1 32 KiB 8-way, LL 256 MiB direct-mapped, I1 64 KiB 4-way, 64 B lines'],
    ['desc-fully-associative.txt', 'D1 4096 64 64, LL 2097152 64 16, I1 32768 64 8', 'D1 4 KiB fully associative, LL 2 MiB 16-way, I1 32 KiB 8-way, 64 B lines'],
    ['desc-fixed.txt', 'D1 32768 64 8, LL 8388608 64 16, I1 32768 64 8', 'D1 32 KiB 8-way, LL 8 MiB 16-way, I1 32 KiB 8-way, 64 B lines'],
  ] as const;

  it.each(hosts)('reads every level valgrind describes: %s', (file, levels, description) => {
    const geometry = cacheGeometry(parseCallgrind(fixture(file)).desc, 'host');
    expect(geometry?.levels).toEqual(levels.split(', ').map(level));
    expect(geometry?.description).toBe(description);
  });

  it('gives valgrind the fixed geometry explicitly, and the host\'s caches only when asked', () => {
    expect(FIXED_CACHE_GEOMETRY).toEqual(hosts[3][1].split(', ').map(level));
    expect(cacheSimOptions('fixed')).toEqual(['--cache-sim=yes', '--branch-sim=yes', '--I1=32768,8,64', '--D1=32768,8,64', '--LL=8388608,16,64']);
    expect(cacheSimOptions('host')).toEqual(['--cache-sim=yes', '--branch-sim=yes']);
    // valgrind refuses a level whose set count is not a power of two
    for (const level of FIXED_CACHE_GEOMETRY) {
      const sets = level.bytes / (level.ways * level.lineBytes);
      expect(Number.isInteger(Math.log2(sets)), level.name).toBe(true);
    }

    expect(describeCacheLevels(FIXED_CACHE_GEOMETRY)).toBe(hosts[3][2]);
  });

  it('splits misses by function and owner, per operation', () => {
    const split = attributeCache(hakmem, randomMixed, OPS);
    const total = cacheFigures(hakmem.events, hakmem.totals, OPS);
    const categories = Object.values(split.categories);
    for (const key of ['instructions', 'd1Misses', 'llMisses', 'branchMispredicts'] as const) {
      expect(categories.reduce((sum, figures) => sum + figures[key], 0)).toBeCloseTo(total[key], 9);
    }

    expect(Object.values(split.shares).reduce((sum, share) => sum + (share ?? 0), 0)).toBeCloseTo(1, 9);
    expect(Object.keys(split.categories)[0]).toBe('benchmark');
    expect(split.categories['hakmem pages']?.instructions).toBeGreaterThan(10);
    const d1 = split.hotspots.map((hotspot) => hotspot.cachePerOp.d1Misses);
    expect(d1).toEqual([...d1].sort((a, b) => b - a));
    expect(split.hotspots.find((hotspot) => hotspot.symbol === 'malloc' && hotspot.library === 'libhakmem.so')).toMatchObject({
      category: 'hakmem pages',
      cachePerOp: {d1Misses: expect.any(Number)},
    });
  });

  it('finds a peer\'s own functions in its run, malloc and free included where valgrind cannot name their object', () => {
    const split = attributeCache(tcmalloc, {...randomMixed, peer: 'tcmalloc'}, OPS);
    expect(split.hotspots.find((hotspot) => hotspot.symbol === 'malloc')).toMatchObject({library: '???', category: 'tcmalloc'});
    expect(split.categories.other?.instructions ?? 0).toBeLessThan(1);
    // without knowing the peer, an unnamed object stays unowned
    expect(attributeCache(tcmalloc, randomMixed, OPS).hotspots.find((hotspot) => hotspot.symbol === 'malloc')?.category).toBe('other');
    expect(split.categories.tcmalloc?.instructions).toBeGreaterThan(0);
    expect(split.hotspots.some((hotspot) => hotspot.category === 'tcmalloc' && hotspot.library.startsWith('libtcmalloc_minimal.so'))).toBe(true);
    expect(split.categories['hakmem pages']).toBeUndefined();
  });
});

describe('hardware misses beside the simulated ones', () => {
  it('gives L1 load misses and branch misses per operation where perf counts them', () => {
    const figures = hardwareFigures(parsePerfStat(fixture('stat-hardware.txt')), 1e9);
    expect(figures.l1MissesPerOp).toBeCloseTo(0.422_255_997, 9);
    expect(figures.branchMissesPerOp).toBeCloseTo(0.112_978_728, 9);
  });

  it('gives none where perf says <not supported>', () => {
    const figures = hardwareFigures(parsePerfStat(fixture('stat-software.txt')), 1e9);
    expect(figures.l1MissesPerOp).toBeNull();
    expect(figures.branchMissesPerOp).toBeNull();
  });
});
