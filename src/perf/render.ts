/**
 * Text of `hak perf` that is not bound to one command's layout: the per-function differences of
 * two runs (--base, --diff) with --instructions or --cache.
 */
import {renderTable} from '../ui/table.js';
import type {FunctionComparison} from './diff.js';

/** How many changed functions the table shows; --json has them all. */
export const SHOWN_FUNCTIONS = 15;

const signed = (value: number, digits: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;

/** The functions whose cost per operation changed most between the two runs, largest change first. */
export async function functionChangeTable(functions: readonly FunctionComparison[], labels: {a: string; b: string}): Promise<string> {
  const digits = functions[0]?.figure === 'd1Misses' ? 3 : 1;
  const rows = functions.slice(0, SHOWN_FUNCTIONS).map((row) => [
    signed(row.change, digits),
    row.b.toFixed(digits),
    row.a.toFixed(digits),
    row.symbol,
    row.library,
    row.category,
  ]);
  const unit = functions[0]?.figure === 'd1Misses' ? 'D1 miss/op' : 'instr/op';
  return renderTable([`change ${unit}`, labels.b, labels.a, 'function (self)', 'library', 'category'], rows, {wrap: [3]});
}
