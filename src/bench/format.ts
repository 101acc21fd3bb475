/** Numbers as bench tables and charts print them. */

const PREFIXES: [number, string][] = [
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

function scaled(value: number, divisor: number): string {
  const x = value / divisor;
  const digits = Math.abs(x) >= 100 ? 1 : Math.abs(x) >= 10 ? 2 : 3;
  return x.toFixed(digits);
}

function prefixOf(value: number): [number, string] {
  return PREFIXES.find(([size]) => Math.abs(value) >= size) ?? [1, ''];
}

/** Operations per second with an SI prefix and four significant digits: `241.3M`, `18.25M`, `950.2k`. */
export function formatRate(value: number): string {
  const [divisor, prefix] = prefixOf(value);
  return `${scaled(value, divisor)}${prefix}`;
}

/** An axis tick: as short as the value allows, `0`, `500k`, `1.5M`. */
export function formatTick(value: number): string {
  const [divisor, prefix] = prefixOf(value);
  return `${Number((value / divisor).toPrecision(4))}${prefix}`;
}

/** `238.1–243.0M`, or both ends with their prefix when they differ: `950.2k–1.020M`. */
export function formatRange(low: number, high: number): string {
  const [divisorLow, prefixLow] = prefixOf(low);
  const [divisorHigh, prefixHigh] = prefixOf(high);
  if (prefixLow === prefixHigh) return `${scaled(low, divisorLow)}–${scaled(high, divisorHigh)}${prefixHigh}`;
  return `${formatRate(low)}–${formatRate(high)}`;
}

/** Kilobytes as `812 KiB`, `1.6 MiB`, `1.21 GiB`. */
export function formatRss(kb: number): string {
  if (kb < 1024) return `${Math.round(kb)} KiB`;
  const mib = kb / 1024;
  if (mib < 1024) return `${mib.toFixed(mib >= 100 ? 0 : 1)} MiB`;
  return `${(mib / 1024).toFixed(2)} GiB`;
}

/** A ratio as a factor: `×1.031`. */
export function formatRatio(ratio: number): string {
  return `×${ratio.toFixed(3)}`;
}

/** A ratio as a signed percentage change: 1.104 -> `+10.4%`. */
export function formatGain(ratio: number): string {
  const tenths = Math.round((ratio - 1) * 1000);
  if (tenths === 0) return '0.0%';
  return `${tenths > 0 ? '+' : '-'}${(Math.abs(tenths) / 10).toFixed(1)}%`;
}

export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
