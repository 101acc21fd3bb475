/**
 * Tables for terminal output, rendered with cli-table3 in a plain style: no colours, no
 * borders, a rule under the header. Columns listed in `wrap` are narrowed and word-wrapped when
 * the table would be wider than the terminal.
 */

export interface TableOptions {
  /** Indexes of columns that may wrap. */
  wrap?: number[];
  /** Defaults to the terminal width, or 120 when output is not a terminal. */
  maxWidth?: number;
}

/**
 * A cell that knows more than its text: the exact figure it rounds, what it holds and how it
 * reads (a verdict, a status). The terminal prints the text; the HTML report keeps the rest.
 */
export interface TableCell {
  text: string;
  /** The figure the text rounds. */
  value?: number | null;
  /** What the cell holds: median, ratio, verdict, ... */
  field?: string;
  /** How it reads: verdict-faster, status-invalid, ... */
  mark?: string;
}

export type CellInput = string | TableCell;

/** A table's header and rows, each row keyed by what it is about (a target's label). */
export interface TableRows {
  head: string[];
  rows: {key: string; cells: CellInput[]}[];
}

export function cellText(cell: CellInput): string {
  return typeof cell === 'string' ? cell : cell.text;
}

const GAP = 2;

export async function renderTable(head: string[], cellRows: CellInput[][], options: TableOptions = {}): Promise<string> {
  const {default: Table} = await import('cli-table3');
  const rows = cellRows.map((row) => row.map(cellText));
  const widths = head.map((title, column) => Math.max(title.length, ...rows.map((row) => longestLine(row[column] ?? ''))));
  const maxWidth = options.maxWidth ?? (process.stdout.columns || 120);
  const wrapping = fitWidths(widths, options.wrap ?? [], maxWidth - GAP * (head.length - 1));
  // A blank line between rows only where some row really spans several lines.
  const multiLine = wrapping && rows.some((row) => row.some((cell, column) => longestLine(cell) > (widths[column] ?? 0)));

  const table = new Table({
    head,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '',
      middle: ' '.repeat(GAP),
    },
    style: {head: [], border: [], 'padding-left': 0, 'padding-right': 0},
    colWidths: widths,
    wordWrap: wrapping,
  });
  table.push(widths.map((width) => '─'.repeat(width)));
  for (const [index, row] of rows.entries()) {
    // Wrapped rows run into each other without a blank line between them.
    if (multiLine && index > 0) table.push(head.map(() => ''));
    table.push(row);
  }

  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

function longestLine(text: string): number {
  return Math.max(...text.split('\n').map((line) => line.length));
}

/** Shrinks the wrappable columns (in place) until the total fits; returns whether any shrank. */
function fitWidths(widths: number[], wrappable: number[], available: number): boolean {
  let excess = widths.reduce((sum, width) => sum + width, 0) - available;
  if (excess <= 0 || wrappable.length === 0) return false;
  const minimum = 16;
  while (excess > 0) {
    const widest = wrappable.reduce((best, column) => ((widths[column] ?? 0) > (widths[best] ?? 0) ? column : best), wrappable[0]!);
    if ((widths[widest] ?? 0) <= minimum) break;
    widths[widest] = (widths[widest] ?? 0) - 1;
    excess--;
  }

  return true;
}
