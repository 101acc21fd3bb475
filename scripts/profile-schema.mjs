// From the one profile schema (src/profiles/format.ts, printed by `hak profiles --schema`):
// profiles/profile.schema.json, which editors read through the first line of every profile,
//   # yaml-language-server: $schema=./profile.schema.json
// and the field tables of profiles/README.md, between <!-- fields: KIND --> and <!-- /fields -->.
// test/profile-schema.test.ts fails when either is out of date.
//   npm run build && node scripts/profile-schema.mjs
import {execFileSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const SCHEMA_FILE = 'profiles/profile.schema.json';
export const README_FILE = 'profiles/README.md';
export const SCHEMA_LINE = '# yaml-language-server: $schema=./profile.schema.json';

/** The schema as the built hak prints it. */
export function currentSchema() {
  return JSON.parse(execFileSync(process.execPath, ['bin/run.js', 'profiles', '--schema'], {cwd: root, encoding: 'utf8'}));
}

export const schemaText = (schema) => `${JSON.stringify(schema, null, 2)}\n`;

const code = (value) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;

/** What a field takes, in a few words, from its JSON Schema. */
function takes(schema) {
  let node = schema;
  if (node.const !== undefined) return code(node.const);
  if (node.enum) return node.enum.map(code).join(', ');
  if (node.anyOf?.every((option) => option.const !== undefined)) return node.anyOf.map((option) => code(option.const)).join(', ');
  if (node.anyOf) return node.anyOf.map(takes).join(', or ');
  const type = Array.isArray(node.type) ? node.type.join(' or ') : node.type;
  if (type === 'integer' || type === 'number') {
    const low = node.exclusiveMinimum === undefined ? node.minimum : `above ${node.exclusiveMinimum}`;
    if (node.maximum >= Number.MAX_SAFE_INTEGER) node = {...node, maximum: undefined};
    const range = low === undefined ? '' : node.maximum === undefined ? ` from ${low}` : ` ${typeof low === 'number' ? `${low} to` : `${low}, at most`} ${node.maximum}`;
    return `${type === 'integer' ? 'integer' : 'number'}${range}`;
  }

  if (type === 'array') return `list${node.items ? ` of ${takes(node.items)}` : ''}`;
  if (type === 'object') return node.properties ? 'mapping' : 'mapping of names to values';
  return type ?? 'any';
}

/** Rows of `| field | required | takes | meaning |`, parents before their fields. */
function rows(node, prefix, parent) {
  const out = [];
  const meaning = (child) => `${child.description ?? ''}${child.default === undefined ? '' : ` (default ${code(child.default)})`}`.replaceAll('|', '\\|');
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const path = `${prefix}${name}`;
    const required = (node.required ?? []).includes(name) ? (parent === null ? 'yes' : `with \`${parent}\``) : 'no';
    out.push(`| \`${path}\` | ${required} | ${takes(child).replaceAll('|', '\\|')} | ${meaning(child)} |`);
    const object = child.type === 'object' ? child : child.type === 'array' && child.items?.type === 'object' ? child.items : null;
    const listOf = child.anyOf?.find((option) => option.type === 'array' && option.items?.type === 'object');
    const inRequired = parent === null && (node.required ?? []).includes(name);
    if (object) {
      const itemPath = `${path}${child.type === 'array' ? '[i]' : ''}`;
      out.push(...rows(object, `${itemPath}.`, inRequired && child.type !== 'array' ? null : itemPath));
    } else if (listOf) {
      out.push(...rows(listOf.items, `${path}[i].`, `${path}[i]`));
    }
  }

  return out;
}

/** The field table of one kind of profile. */
export function fieldTable(schema, kind) {
  const node = schema.anyOf.find((option) => option.properties.kind.const === kind);
  return ['| field | required | takes | meaning |', '|---|---|---|---|', ...rows(node, '', null)].join('\n');
}

/** README text with every marked table replaced by the schema's. */
export function withFieldTables(readme, schema) {
  return readme.replace(/<!-- fields: (\w+) -->\n[\s\S]*?<!-- \/fields -->/g, (_, kind) => `<!-- fields: ${kind} -->\n${fieldTable(schema, kind)}\n<!-- /fields -->`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const schema = currentSchema();
  writeFileSync(`${root}${SCHEMA_FILE}`, schemaText(schema));
  writeFileSync(`${root}${README_FILE}`, withFieldTables(readFileSync(`${root}${README_FILE}`, 'utf8'), schema));
  console.log(`Wrote ${SCHEMA_FILE} and the field tables of ${README_FILE}.`);
}
