/**
 * The HTML around a report's sections: one document with its style sheet inline, nothing fetched
 * from anywhere, readable on a laptop screen and printed without navigation or cut charts. The
 * helpers here build the elements every section uses (tables whose number cells carry the exact
 * figure in data-value, notes, collapsible blocks that are open when printed).
 */
import {escapeXml} from '../bench/chart.js';
import type {CellInput, TableCell, TableRows} from '../ui/table.js';

/** Text made safe for HTML content and attribute values. */
export const escapeHtml = escapeXml;

function cell(input: CellInput, tag: 'td' | 'th'): string {
  const content: TableCell = typeof input === 'string' ? {text: input} : input;
  const attributes = [
    content.field ? ` data-field="${escapeHtml(content.field)}"` : '',
    content.value === undefined || content.value === null ? '' : ` data-value="${content.value}"`,
    content.mark ? ` class="${escapeHtml(content.mark)}"` : '',
  ].join('');
  return `<${tag}${attributes}>${escapeHtml(content.text).replaceAll('\n', '<br>')}</${tag}>`;
}

/** A table with a header row, each row marked with what it is about (data-row); `className` says which table it is. */
export function htmlTable({head, rows}: TableRows, className: string): string {
  const body = rows.map((row) => `<tr data-row="${escapeHtml(row.key)}">${row.cells.map((input, index) => cell(input, index === 0 ? 'th' : 'td')).join('')}</tr>`);
  return [
    `<div class="table-wrap"><table class="${className}">`,
    `<thead><tr>${head.map((title) => `<th scope="col">${escapeHtml(title)}</th>`).join('')}</tr></thead>`,
    `<tbody>${body.join('')}</tbody>`,
    '</table></div>',
  ].join('');
}

/** Lines of plain text as a list. */
export function noteList(lines: readonly string[], className = 'notes'): string {
  if (lines.length === 0) return '';
  return `<ul class="${className}">${lines.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>`;
}

/** Key and value pairs (the header of a result). */
export function factList(facts: readonly [string, string][]): string {
  return `<dl class="facts">${facts.map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(value)}</dd>`).join('')}</dl>`;
}

/** A titled block that a reader may fold away; open by default, and always printed open. */
export function block(title: string, content: string, options: {className?: string} = {}): string {
  return `<details open class="block${options.className ? ` ${options.className}` : ''}"><summary><h3>${escapeHtml(title)}</h3></summary>${content}</details>`;
}

const STYLE = `
:root { --ink: #1d2329; --muted: #5b6670; --rule: #d9dee3; --band: #eef1f4; --accent: #2f5f8f; --bad: #b03a2e; --good: #2e7d32; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: var(--ink); background: #fff; }
header.page { padding: 18px 28px 10px; border-bottom: 1px solid var(--rule); }
header.page h1 { margin: 0 0 4px; font-size: 22px; }
header.page p { margin: 0; color: var(--muted); }
nav.contents { padding: 8px 28px; border-bottom: 1px solid var(--rule); background: #fafbfc; }
nav.contents a { margin-right: 14px; color: var(--accent); text-decoration: none; white-space: nowrap; }
main { padding: 0 28px 40px; max-width: 1500px; }
section.result { padding-top: 18px; border-bottom: 2px solid var(--rule); padding-bottom: 12px; }
section.result > h2 { margin: 0 0 2px; font-size: 19px; }
section.result > p.command { margin: 0 0 10px; font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 13px; color: var(--muted); overflow-wrap: anywhere; }
h3 { display: inline; font-size: 15px; margin: 0; }
details.block { margin: 14px 0 0; }
details.block > summary { cursor: pointer; padding: 2px 0 6px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 4px 0 8px; font-size: 13px; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: right; vertical-align: top; white-space: nowrap; }
thead th { background: var(--band); text-align: right; font-weight: 600; }
tbody th, thead th:first-child { text-align: left; }
table.evidence th, table.evidence td, table.bisect td, table.perf-hotspots td { text-align: left; }
td.wide { text-align: left; white-space: normal; max-width: 48em; }
.verdict-faster, .verdict-lower { color: var(--good); font-weight: 600; }
.verdict-slower, .verdict-higher { color: var(--bad); font-weight: 600; }
.status-invalid, .status-failed { color: var(--bad); font-weight: 700; background: #fbeaea; }
ul.notes { margin: 4px 0; padding-left: 20px; color: var(--muted); font-size: 13px; }
ul.warnings { margin: 4px 0; padding-left: 20px; color: var(--bad); font-size: 13px; }
figure { margin: 6px 0 10px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 28px; align-items: flex-start; }
.charts figure { flex: 1 1 560px; max-width: 760px; }
.flame svg { width: 100%; height: auto; }
p.empty { color: var(--muted); font-style: italic; }
@media (max-width: 900px) { main, header.page, nav.contents { padding-left: 12px; padding-right: 12px; } }
@media print {
  nav.contents { display: none; }
  body { font-size: 11px; }
  main { max-width: none; padding: 0 8px; }
  section.result { break-before: page; border: none; }
  section.result:first-of-type { break-before: auto; }
  figure, table, dl.facts { break-inside: avoid; }
  /* A4 portrait holds an eight-column table only with small type and wrapping cells. */
  .table-wrap { overflow: visible; }
  table { font-size: 10px; }
  th, td { padding: 2px 4px; white-space: normal; }
  details.block > summary { list-style: none; }
  .charts figure { flex-basis: 100%; max-width: none; }
  a { color: inherit; text-decoration: none; }
}
`;

/**
 * Where JavaScript runs: details elements fold and unfold by themselves, so the script only
 * opens every block before printing (a reader may have folded some) and restores them after.
 */
const SCRIPT = `
(() => {
  let folded = [];
  addEventListener('beforeprint', () => { folded = [...document.querySelectorAll('details:not([open])')]; for (const d of folded) d.open = true; });
  addEventListener('afterprint', () => { for (const d of folded) d.open = false; folded = []; });
})();
`;

export interface PageContents {
  title: string;
  subtitle: string;
  /** Links to the sections: [anchor, text]. */
  contents: [string, string][];
  body: string;
}

/** The whole document. */
export function renderPage(page: PageContents): string {
  const nav = page.contents.length > 1 ? `<nav class="contents">${page.contents.map(([anchor, label]) => `<a href="#${escapeHtml(anchor)}">${escapeHtml(label)}</a>`).join('')}</nav>` : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No icon to fetch: the file stands alone.
    '<link rel="icon" href="data:,">',
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<header class="page"><h1>${escapeHtml(page.title)}</h1><p>${escapeHtml(page.subtitle)}</p></header>`,
    nav,
    `<main>${page.body}</main>`,
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
