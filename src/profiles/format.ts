/**
 * The profile file format, once: every field with its type, range, default and meaning. From
 * this one schema come the validation of a file (validate.ts words its issues), the JSON Schema
 * that editors read (profiles/profile.schema.json, `hak profiles --schema`) and the field tables
 * of profiles/README.md (scripts/profile-schema.mjs). Rules that span fields (a name equal to
 * the file's, the thread argument saying the thread count) are validate.ts's.
 *
 * Each schema's error text is what was expected ("an integer from 1 to 1000"); validate.ts adds
 * the field, the line and what the file had.
 *
 * zod is loaded only when a profile is read, never for --help (see profiles/index.ts).
 */
import * as z from 'zod';

import {ALLOCATOR_NAMES} from '../allocators.js';
import {TOGGLES} from '../features.js';
import {CALL_GRAPH_MODES, PROFILE_KINDS} from './schema.js';
import {CLIENT_PARSERS, PORT_PLACEHOLDER} from './server-schema.js';

/** Meta keys of a field: its default, shown in the field table and the JSON Schema. */
type FieldMeta = {
  description: string;
  default?: unknown;
};

const field = <T extends z.ZodType>(schema: T, meta: FieldMeta): T => schema.meta(meta) as T;

/** An object that refuses unknown keys, saying which are allowed (or `unknown`'s own words). */
function strict<T extends z.ZodRawShape>(shape: T, unknown?: string) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? (unknown ?? `no such field; allowed: ${allowed}`) : 'a mapping'),
  });
}

const text = (expected = 'a non-empty string') => z.string({error: expected}).regex(/\S/, {error: expected});
const pattern = (regex: RegExp, expected: string) => z.string({error: expected}).regex(regex, {error: expected});
const integer = (min: number, max: number) => {
  const expected = `an integer from ${min} to ${max}`;
  return z.number({error: expected}).int({error: expected}).min(min, {error: expected}).max(max, {error: expected});
};

const seconds = (max: number) => {
  const expected = `a number of seconds above 0 and at most ${max}`;
  return z.number({error: expected}).positive({error: expected}).max(max, {error: expected});
};

const flag = () => z.boolean({error: 'true or false'});
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, {error: `one of ${values.join(', ')}`});
const argument = z.union([z.string(), z.number()], {error: 'a string or a number'});
const argumentList = () => z.array(argument, {error: 'a list of arguments'});
const commandLine = () => z.array(argument, {error: 'a list of arguments'}).min(1, {error: 'a command line: the program, then its arguments'});

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
const NAME_TEXT = 'a name of lower-case letters, digits and dashes';
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A regular expression in a string: one that does not compile is named with the reason. */
const regexText = (flags = '') =>
  text().superRefine((value, context) => {
    try {
      new RegExp(value, flags); // eslint-disable-line no-new
    } catch (error) {
      context.addIssue({code: 'custom', message: `a regular expression (${(error as Error).message})`, input: value});
    }
  });

const stats = z.union([z.literal(0), z.literal(1), z.literal(2)], {error: 'a stats level 0, 1 or 2'}).optional();
/** Every toggle of `hak features`, in its order: stats a level, the others true or false. */
const toggles = Object.fromEntries(
  TOGGLES.map((toggle) => [toggle.key, field(toggle.key === 'stats' ? stats : flag().optional(), {description: toggle.meaning})]),
) as Record<string, z.ZodOptional<z.ZodBoolean>>;
const TOGGLE_LIST = TOGGLES.map((toggle) => toggle.key).join(', ');

const variant = strict(
  {
    name: field(pattern(NAME_PATTERN, NAME_TEXT), {description: 'the variant\'s name, shown as hakmem:NAME'}),
    expected: field(text().optional(), {description: 'in a sweep, the gain the design notes expected of this step, shown beside the measured gain'}),
    ...toggles,
  },
  `a toggle: name, expected, ${TOGGLE_LIST}`,
);

const hakmem = field(
  z.union([strict(toggles, `a toggle: ${TOGGLE_LIST}`), z.array(variant).min(1)], {error: 'a mapping of toggles, or a non-empty list of named variants'}).optional(),
  {description: 'the variant(s) to build: a mapping of toggles, or a list of named variants (name plus toggles) for a sweep; toggles left out take their defaults, and toggle flags on the command line override them'},
);

/** What every kind of profile has: its name and what it says, */
const common = {
  name: field(pattern(NAME_PATTERN, NAME_TEXT), {description: 'lower-case letters, digits and dashes; must equal the file\'s name'}),
  description: field(text(), {description: 'what the profile measures and why'}),
  env: field(
    z.record(pattern(ENV_NAME_PATTERN, 'an environment variable name'), z.union([z.string(), z.number(), z.boolean()], {error: 'a string or a number'}), {error: 'a mapping of environment variables'}).optional(),
    {description: 'extra environment variables for every run; LD_PRELOAD is not allowed (hak sets it per allocator)'},
  ),
  hakmem,
  allocators: field(z.array(oneOf(ALLOCATOR_NAMES), {error: `a non-empty list of ${ALLOCATOR_NAMES.join(', ')}`}).min(1, {error: `a non-empty list of ${ALLOCATOR_NAMES.join(', ')}`}).optional(), {
    description: `any of ${ALLOCATOR_NAMES.join(', ')}, each once`,
    default: [...ALLOCATOR_NAMES],
  }),
  runs: field(integer(1, 1000).optional(), {description: 'measured runs per allocator', default: 5}),
  warmup: field(integer(0, 100).optional(), {description: 'runs discarded before the measured ones', default: 1}),
  timeout: field(seconds(86_400).optional(), {description: 'seconds one run may take before it is killed', default: 120}),
};

/** and how it runs, in the order every kind lists them. */
const running = {env: common.env, hakmem, allocators: common.allocators, runs: common.runs, warmup: common.warmup, timeout: common.timeout};

/** Resource limits a benchmark or command starts under. */
const limits = field(
  strict({
    addressSpaceKib: field(integer(1024, 2 ** 40), {description: 'RLIMIT_AS in KiB, as `ulimit -v` sets it: every run starts under it (through prlimit), so its allocator sees the limit from the first instruction'}),
  }).optional(),
  {description: 'resource limits every measured run starts under (none by default); hak perf --instructions and --cache refuse such a profile, since valgrind cannot run under them'},
);

const perfFields = {
  event: field(text().optional(), {description: 'the event perf samples; auto: cycles where the machine has hardware counters, the software event cpu-clock where it does not', default: 'auto'}),
  frequency: field(integer(1, 100_000).optional(), {description: 'samples per second', default: 999}),
  callGraph: field(oneOf(CALL_GRAPH_MODES).optional(), {description: 'none, fp (frame pointers) or dwarf', default: 'dwarf'}),
};

export const benchmarkProfileFormat = strict({
  name: common.name,
  kind: field(z.literal('benchmark', {error: `one of ${PROFILE_KINDS.join(', ')}`}).optional(), {description: 'benchmark (the default): a program of csrc/bench; command: any program; server: a server and its clients', default: 'benchmark'}),
  description: common.description,
  benchmark: field(
    strict({
      program: field(pattern(/^[a-z0-9_]+$/, 'a benchmark program name from csrc/bench (letters, digits, underscores)'), {description: 'a program from csrc/bench/ (random_mixed, tiny_hot, larson, ...)'}),
      args: field(argumentList().optional(), {description: 'its positional arguments, strings or numbers (default: none, the program\'s defaults)'}),
    }),
    {description: 'the program of csrc/bench/ to run, and its arguments'},
  ),
  threads: field(
    strict({
      count: field(integer(1, 1024), {description: 'threads the benchmark runs with', default: 1}),
      overridable: field(flag().optional(), {description: 'whether --threads N may change the count', default: false}),
      arg: field(z.number({error: 'an integer from 0'}).int({error: 'an integer from 0'}).min(0, {error: 'an integer from 0'}).nullable().optional(), {
        description: 'index in benchmark.args of the thread-count argument; the value there must equal threads.count, and --threads replaces it (in callgrind.args and perf.args too)',
      }),
    }).optional(),
    {description: 'the benchmark\'s threads'},
  ),
  ...running,
  limits,
  callgrind: field(strict({args: field(argumentList().optional(), {description: 'short arguments (a few hundred thousand operations) for exact instruction counts under callgrind (default: benchmark.args)'})}).optional(), {
    description: 'how hak perf --instructions and hak check run the benchmark',
  }),
  perf: field(strict({...perfFields, args: field(argumentList().optional(), {description: 'arguments of the recorded run (default: benchmark.args)'})}).optional(), {description: 'how hak perf samples the run'}),
});

export const commandProfileFormat = strict({
  name: common.name,
  kind: field(z.literal('command'), {description: 'command: any program, measured and compared like a benchmark'}),
  description: common.description,
  command: field(
    strict({
      argv: field(commandLine(), {description: 'the command line: the program (looked up on PATH unless it has a slash), then its arguments'}),
      stdin: field(text().optional(), {description: 'a file fed to its standard input, relative to the profile file\'s directory (default: none)'}),
      cwd: field(text().optional(), {description: 'where it runs, relative to the profile file\'s directory (default: where hak runs)'}),
      figure: field(
        strict({
          regex: field(regexText(), {description: 'the first group of the regex\'s last match on stdout is the figure'}),
          unit: field(text(), {description: 'the figure\'s unit, shown beside the medians (ms, items/s)'}),
          better: field(oneOf(['lower', 'higher'] as const), {description: 'lower or higher: which way is better'}),
        }).optional(),
        {description: 'read the figure from stdout instead of the wall time in seconds'},
      ),
      checkOutput: field(flag().optional(), {description: 'whether every allocator\'s stdout must equal the first\'s, else INVALID', default: true}),
    }),
    {description: 'what runs'},
  ),
  ...running,
  limits,
  perf: field(strict(perfFields).optional(), {description: 'how hak perf samples the run'}),
});

/** A command line that must say where the server's port goes. */
const portCommand = (what: string, missing: string) =>
  field(
    commandLine().superRefine((argv, context) => {
      if (!argv.some((word) => String(word).includes(PORT_PLACEHOLDER))) context.addIssue({code: 'custom', message: missing, input: argv.join(' ')});
    }),
    {description: `${what}, with ${PORT_PLACEHOLDER} where the server's port goes`},
  );

export const serverProfileFormat = strict({
  name: common.name,
  kind: field(z.literal('server'), {description: 'server: a server under each allocator, loaded by clients outside it'}),
  description: common.description,
  server: field(
    strict({
      argv: portCommand('the server\'s command line, run under the allocator', `the port as ${PORT_PLACEHOLDER} somewhere in the command line (hak picks a free loopback port for each run)`),
      cwd: field(text().optional(), {description: 'where server, clients and checks run, relative to the profile file\'s directory (default: where hak runs)'}),
      ready: field(
        strict({
          port: field(flag().optional(), {description: 'true: ready when the port accepts a TCP connection (the default)'}),
          command: field(commandLine().optional(), {description: 'instead: ready when this command (with {port}) exits 0'}),
          timeout: field(seconds(600).optional(), {description: 'seconds to wait for readiness', default: 10}),
        }).optional(),
        {description: 'when the server is ready for its clients'},
      ),
      stop: field(strict({grace: field(seconds(600).optional(), {description: 'seconds between SIGTERM and SIGKILL', default: 5})}).optional(), {description: 'how the server is stopped'}),
      idle: field(seconds(600).optional(), {description: 'seconds the server sits idle after the load before its idle RSS is read', default: 1}),
      placement: field(oneOf(['auto', 'none'] as const).optional(), {description: 'auto: server and clients on different CPUs (taskset) where there are two or more; none: no placement', default: 'auto'}),
    }),
    {description: 'the server'},
  ),
  clients: field(
    z.array(strict({argv: portCommand('the client\'s command line, run without the allocator', `the server's port as ${PORT_PLACEHOLDER} somewhere in the command line`), parser: field(oneOf(CLIENT_PARSERS), {description: 'redis-benchmark-csv (redis-benchmark --csv) or hak-client-json (a last line {"rps", "p50_ms", "p99_ms", "max_ms", "errors"})'})}), {
      error: 'a non-empty list of clients, each with argv and parser',
    }).min(1, {error: 'a non-empty list of clients, each with argv and parser'}),
    {description: 'the clients, run one after the other'},
  ),
  checks: field(
    z.array(strict({argv: field(commandLine(), {description: `a command that asks the server something known, with ${PORT_PLACEHOLDER} where the port goes`}), expect: field(regexText('m'), {description: 'a regular expression its stdout must match'})}), {error: 'a list of checks, each with argv and expect'}).optional(),
    {description: 'commands run after the load'},
  ),
  ...running,
  timeout: field(seconds(86_400).optional(), {description: 'seconds each client may take', default: 120}),
});

/** The schema of a file of each kind; a file without `kind` is a benchmark. */
export const PROFILE_FORMATS = {benchmark: benchmarkProfileFormat, command: commandProfileFormat, server: serverProfileFormat} as const;

export const kindFormat = oneOf(PROFILE_KINDS);

export type BenchmarkProfileFile = z.infer<typeof benchmarkProfileFormat>;
export type CommandProfileFile = z.infer<typeof commandProfileFormat>;
export type ServerProfileFile = z.infer<typeof serverProfileFormat>;

/** The JSON Schema of a profile file (draft-07, which editors and ajv read). */
export function profileJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(z.union([benchmarkProfileFormat, commandProfileFormat, serverProfileFormat]), {target: 'draft-7', io: 'input', unrepresentable: 'any'});
  return {
    $schema: schema.$schema,
    $id: 'https://hakmem.invalid/profile.schema.json',
    title: 'hak profile',
    description: 'A measurement profile of hak (profiles/README.md): a benchmark of csrc/bench, any command, or a server and its clients.',
    ...Object.fromEntries(Object.entries(schema).filter(([key]) => key !== '$schema')),
  };
}
