/**
 * Several profiles in one `hak bench` call: one line per profile for the target being judged
 * (the work tree's hakmem under --base, else hakmem) against that profile's baseline, and the
 * geometric mean of the ratios, so a change is judged on the whole suite, not on one profile.
 */
import type {ComparisonVerdict} from '../statistics/ratio.js';
import type {BenchAnalysis, MemoryVerdict, TargetResult} from './analysis.js';

export interface ProfileSummary {
  profile: string;
  /** The target judged: `hakmem` (the work tree under --base), or the first hakmem target. */
  label: string | null;
  baseline: string;
  /** Its ratio to the baseline (times better), interval and verdict; null when not comparable. */
  vsBaseline: ComparisonVerdict | null;
  /** Its peak RSS over the baseline's; null when not comparable. */
  rssVsBaseline: MemoryVerdict | null;
  /** ok, invalid or failed; `missing` when the profile had no hakmem target besides the baseline. */
  status: TargetResult['status'] | 'missing';
  /** What the profile's figure measures, which words its verdict (render's verdictWord). */
  figure: {unit: string; better: 'higher' | 'lower'};
}

export interface SuiteSummary {
  profiles: ProfileSummary[];
  /** Geometric means over the profiles that have a ratio; null when none has. */
  geomean: {ratio: number; peakRssRatio: number | null; profiles: number} | null;
  /** How many profiles got each verdict. */
  verdicts: {faster: number; slower: number; withinNoise: number; notCompared: number};
}

/** The result a profile's summary line speaks for: the unrevisioned or work-tree hakmem, not the baseline. */
function judgedResult(analysis: BenchAnalysis): TargetResult | undefined {
  const candidates = analysis.results.filter((result) => result.allocator === 'hakmem' && result.label !== analysis.baseline);
  return candidates.find((result) => result.revision === null || result.revision.ref === 'work tree') ?? candidates[0];
}

function geometricMean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  return Math.exp(values.reduce((sum, value) => sum + Math.log(value), 0) / values.length);
}

export function summarizeSuite(analyses: readonly {profile: string; analysis: BenchAnalysis}[]): SuiteSummary {
  const profiles = analyses.map(({profile, analysis}): ProfileSummary => {
    const judged = judgedResult(analysis);
    return {
      profile,
      label: judged?.label ?? null,
      baseline: analysis.baseline,
      vsBaseline: judged?.vsBaseline ?? null,
      rssVsBaseline: judged?.rssVsBaseline ?? null,
      status: judged?.status ?? 'missing',
      figure: {unit: analysis.results[0]?.unit ?? 'ops/s', better: analysis.results[0]?.better ?? 'higher'},
    };
  });
  const compared = profiles.filter((summary) => summary.vsBaseline !== null);
  const ratio = geometricMean(compared.map((summary) => summary.vsBaseline!.ratio));
  const rss = compared.filter((summary) => summary.rssVsBaseline !== null);
  const verdictCount = (verdict: string): number => compared.filter((summary) => summary.vsBaseline!.verdict === verdict).length;
  return {
    profiles,
    geomean: ratio === null ? null : {ratio, peakRssRatio: rss.length === compared.length ? geometricMean(rss.map((summary) => summary.rssVsBaseline!.ratio)) : null, profiles: compared.length},
    verdicts: {faster: verdictCount('faster'), slower: verdictCount('slower'), withinNoise: verdictCount('within noise'), notCompared: profiles.length - compared.length},
  };
}
