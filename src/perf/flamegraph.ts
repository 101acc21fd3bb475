/**
 * Flame graphs from `perf script` call chains: the samples are merged into a tree of stacks
 * (root first: the command, main, ..., the sampled function) and drawn as an SVG in which each
 * frame's width is its share of the samples, coloured by owner category. Every frame carries a
 * <title> (name, library, samples, share) that a browser shows on hover.
 */
import {basename} from 'node:path';

import {type AttributionContext, type Category, categorize} from './owners.js';

/**
 * What hak asks `perf script` for: the command and, per frame, address, symbol and library.
 * Without inlined frames: perf prints no library for those, and drops the real frame of a
 * function whose body is all inlined code (glibc's malloc), so they cannot be attributed.
 */
export const SCRIPT_ARGS = ['-F', 'comm,ip,sym,dso', '--no-inline'];

export interface StackFrame {
  name: string;
  /** Base name of the library; for an inlined frame, the library of the function it was inlined into. */
  library: string;
  inlined: boolean;
  kernel: boolean;
}

export interface FlameNode {
  name: string;
  library: string;
  inlined: boolean;
  kernel: boolean;
  samples: number;
  children: Map<string, FlameNode>;
}

const FRAME = /^\s*([0-9a-f]+)\s+(.*?)\s+\(([^()]*)\)$/;
const KERNEL = new Set(['[kernel.kallsyms]', '[kernel.vmlinux]']);

/** Parses one sample's frames (leaf first, as perf prints them). */
function sampleFrames(lines: string[]): StackFrame[] {
  const raw = lines
    .map((line) => FRAME.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({address: match[1]!, name: match[2]!, dso: match[3]!}));
  const frames: StackFrame[] = [];
  for (const [index, frame] of raw.entries()) {
    const inlined = frame.dso === 'inlined';
    // An inlined frame lives in the real frame printed after it at the same address, if perf printed one.
    const host = inlined ? raw.slice(index + 1).find((next) => next.address === frame.address && next.dso !== 'inlined')?.dso ?? '[unknown]' : frame.dso;
    frames.push({name: frame.name, library: KERNEL.has(host) ? host : basename(host), inlined, kernel: KERNEL.has(host)});
  }

  return frames;
}

/** Reads `perf script -F comm,ip,sym,dso` output into stacks, root first: [comm, ..., leaf]. */
export function parsePerfScript(text: string): {comm: string; frames: StackFrame[]}[] {
  const stacks: {comm: string; frames: StackFrame[]}[] = [];
  let comm: string | null = null;
  let lines: string[] = [];
  const flush = (): void => {
    if (comm !== null) stacks.push({comm, frames: sampleFrames(lines).reverse()});
    comm = null;
    lines = [];
  };

  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      flush();
      continue;
    }

    // Call-chain frames are indented with a tab; a sample's first line is not.
    if (line.startsWith('\t') && comm !== null) {
      lines.push(line);
      continue;
    }

    // A sample's first line: the command, then (without call graphs) its one frame.
    flush();
    const single = /^\s*(\S+)\s+([0-9a-f]+\s+.*\(.*\))$/.exec(line);
    comm = single ? single[1]! : line.trim();
    if (single) lines.push(single[2]!);
  }

  flush();
  return stacks;
}

export function buildFlameTree(stacks: {comm: string; frames: StackFrame[]}[]): FlameNode {
  const node = (name: string, library: string, inlined = false, kernel = false): FlameNode => ({name, library, inlined, kernel, samples: 0, children: new Map()});
  const root = node('all', '');
  for (const stack of stacks) {
    root.samples++;
    let parent = root;
    for (const frame of [{name: stack.comm, library: '', inlined: false, kernel: false}, ...stack.frames]) {
      const key = `${frame.name}\u0000${frame.library}`;
      let child = parent.children.get(key);
      if (!child) {
        child = node(frame.name, frame.library, frame.inlined, frame.kernel);
        parent.children.set(key, child);
      }

      child.samples++;
      parent = child;
    }
  }

  return root;
}

/** The stacks in the folded format other flame graph tools read: `comm;main;...;leaf count`. */
export function foldedStacks(root: FlameNode): string {
  const lines: string[] = [];
  const walk = (node: FlameNode, path: string[]): void => {
    const childSamples = [...node.children.values()].reduce((sum, child) => sum + child.samples, 0);
    if (node.samples > childSamples && path.length > 0) lines.push(`${path.join(';')} ${node.samples - childSamples}`);
    for (const child of node.children.values()) {
      const suffix = child.kernel ? '_[k]' : child.inlined ? '_[i]' : '';
      walk(child, [...path, `${child.name.replaceAll(';', ':')}${suffix}`]);
    }
  };

  walk(root, []);
  return `${lines.join('\n')}\n`;
}

const COLOURS: Record<Category, string> = {
  'hakmem tiny': '#e8a33c',
  'hakmem mid': '#e0c341',
  'hakmem large': '#c9d94a',
  'hakmem pages': '#ecb84e',
  'hakmem other': '#d6894a',
  'glibc malloc': '#e0504a',
  mimalloc: '#5fb86b',
  jemalloc: '#4fae9e',
  tcmalloc: '#7aa84f',
  benchmark: '#6f9bd6',
  kernel: '#b48ad8',
  other: '#a8a8a8',
};

const FRAME_HEIGHT = 17;
const WIDTH = 1200;
const MARGIN = 10;
const CHAR_WIDTH = 6.6;

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

function depthOf(node: FlameNode): number {
  let deepest = 0;
  for (const child of node.children.values()) deepest = Math.max(deepest, depthOf(child));
  return deepest + 1;
}

export interface FlameGraphOptions {
  title: string;
  subtitle: string;
  context: AttributionContext;
}

/** The SVG document of a flame graph: the root at the bottom, callees above their callers. */
export function renderFlameGraph(root: FlameNode, options: FlameGraphOptions): string {
  const levels = depthOf(root);
  const top = 70;
  const height = top + levels * FRAME_HEIGHT + 40;
  const scale = root.samples > 0 ? (WIDTH - 2 * MARGIN) / root.samples : 0;
  const used = new Set<Category>();
  const frames: string[] = [];

  const draw = (node: FlameNode, x: number, depth: number): void => {
    const width = node.samples * scale;
    if (width < 0.3) return;
    const category: Category | null = depth <= 1 ? null : categorize({symbol: node.name, library: node.library, kernel: node.kernel}, options.context);
    if (category) used.add(category);
    const y = top + (levels - depth - 1) * FRAME_HEIGHT;
    const share = root.samples > 0 ? (100 * node.samples) / root.samples : 0;
    const label = `${node.name}${node.inlined ? ' (inlined)' : ''}`;
    const where = node.library ? ` in ${node.library}` : '';
    const tooltip = `${label}${where}: ${node.samples} sample${node.samples === 1 ? '' : 's'}, ${share.toFixed(2)}%${category ? ` (${category})` : ''}`;
    const fill = category ? COLOURS[category] : '#d0d0d0';
    const fits = Math.floor((width - 6) / CHAR_WIDTH);
    const text = fits >= 3 ? (label.length <= fits ? label : `${label.slice(0, fits - 2)}..`) : '';
    frames.push(
      `<g><title>${escapeXml(tooltip)}</title><rect x="${x.toFixed(2)}" y="${y}" width="${width.toFixed(2)}" height="${FRAME_HEIGHT - 1}" rx="2" fill="${fill}"/>` +
        (text ? `<text x="${(x + 3).toFixed(2)}" y="${y + FRAME_HEIGHT - 5}">${escapeXml(text)}</text>` : '') +
        '</g>',
    );
    let childX = x;
    const children = [...node.children.values()].sort((a, b) => a.name.localeCompare(b.name));
    for (const child of children) {
      draw(child, childX, depth + 1);
      childX += child.samples * scale;
    }
  };

  draw(root, MARGIN, 0);
  const legend = [...used]
    .sort()
    .map((category, index) => {
      const x = MARGIN + index * 130;
      return `<rect x="${x}" y="48" width="12" height="12" fill="${COLOURS[category]}"/><text x="${x + 16}" y="58">${escapeXml(category)}</text>`;
    })
    .join('');

  return [
    '<?xml version="1.0" standalone="no"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Verdana, sans-serif" font-size="11">`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#fafafa"/>`,
    `<text x="${WIDTH / 2}" y="22" font-size="16" text-anchor="middle">${escapeXml(options.title)}</text>`,
    `<text x="${WIDTH / 2}" y="40" fill="#555" text-anchor="middle">${escapeXml(options.subtitle)}</text>`,
    legend,
    ...frames,
    `<text x="${MARGIN}" y="${height - 12}" fill="#777">Width is the share of samples; hover over a frame for its figures.</text>`,
    '</svg>',
    '',
  ].join('\n');
}
