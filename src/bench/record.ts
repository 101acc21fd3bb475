/**
 * What one `hak bench` invocation measured, as saved under the results directory: every run's
 * raw figures, the evidence of who served each hakmem run, and enough about the machine, the
 * builds and the sources to know what the numbers belong to. Statistics are not stored: they are
 * recomputed from the raw samples (analysis.ts), so `hak compare` judges saved runs exactly as
 * `hak bench` judged them live.
 */
import type {AllocatorName} from '../allocators.js';
import type {GitState} from '../build/git.js';
import type {RevisionInfo} from '../build/revision.js';
import type {RunFailure} from '../errors.js';
import type {Features, Toolchain} from '../features.js';
import type {BindingWitness} from '../verify/binding.js';
import type {LinkedAllocator, MixedAllocators} from '../verify/linked.js';
import type {CounterWitness} from '../verify/counters.js';
import type {ServedVerdict} from '../verify/judge.js';

export const RECORD_FORMAT = 1;

export interface MachineInfo {
  hostname: string;
  /** CPU model name. */
  cpu: string;
  /** Logical CPUs this process may use. */
  cores: number;
  memoryBytes: number;
  /** `Linux 6.1.0-...`. */
  kernel: string;
  /** The kernel's build string (uname -v). */
  kernelVersion: string;
  /** /etc/os-release's PRETTY_NAME. */
  os: string | null;
  /** The C library the benchmark programs run on (glibc serves the `glibc` target). */
  glibc: string | null;
  node: string;
}

/** One run of one target, as the benchmark program reported it. */
export interface RunSample {
  round: number;
  /** The target's run count, warm-ups included (as in error messages). */
  runIndex: number;
  opsPerSec: number;
  ops: number;
  seconds: number;
  peakRssKb: number;
  /** A command's figure (wall seconds, or what its regex read); absent for a benchmark program. */
  figure?: number;
  /** CPU seconds and minor page faults of the whole process tree (GNU time); null when not counted. */
  userSeconds: number | null;
  systemSeconds: number | null;
  minorFaults: number | null;
  /** Resident memory of the whole process tree, sampled every 10 ms and at exit: [ms, kB]. */
  rssTimeline: [number, number][];
  /** The time-weighted mean of rssTimeline. */
  meanRssKb: number;
  checksum: string;
  /** Every argument's effective value, as the program reported it. */
  params: Record<string, unknown>;
  /** The whole process, start to exit. */
  wallSeconds: number;
  /** Fields the program adds of its own (fragment_stress's rssOverLive, ...). */
  extra: Record<string, unknown>;
  /** hakmem runs: the verdict on who served this run, and the counters it rests on. */
  served: ServedVerdict | null;
  counters: CounterWitness | null;
}

/** Why a target stopped: the run that failed and what the program left on stderr. */
export interface FailureRecord {
  message: string;
  failure: RunFailure;
  runIndex: number;
  round: number;
  warmup: boolean;
  exitCode?: number;
  signal?: string;
  timeoutSeconds?: number;
  stderrTail: string;
  /** The command line that reproduces the run. */
  command: string;
}

export interface VariantInfo {
  /** The profile's name for the variant ("default" for a profile naming one). */
  name: string;
  id: string;
  features: Features;
  toolchain: Toolchain;
  compilerVersion: string;
  library: string;
  /** The hash of the csrc sources it was built from, and their git state. */
  sourcesHash: string | null;
  git: GitState | null;
  /** What the design notes expected of this step of a sweep, from the profile. */
  expected: string | null;
}

export interface LibraryInfo {
  path: string;
  /** The file the path resolves to (libmimalloc.so.2 -> libmimalloc.so.2.0). */
  realPath: string | null;
  /** The file's sha256 (absent in older records). */
  sha256?: string | null;
  /** null for a library given as NAME=PATH. */
  debianPackage: string | null;
  /** The installed package's version, when dpkg knows it. */
  version: string | null;
}

export interface TargetRecord {
  /** `glibc`, `mimalloc`, ...; `hakmem`, or `hakmem:<variant>` for a sweep. */
  label: string;
  allocator: AllocatorName;
  preload: string | null;
  /** The peer's shared library, for mimalloc, jemalloc and tcmalloc. */
  library: LibraryInfo | null;
  variant: VariantInfo | null;
  /** The sources a hakmem target was built from, when runs compared revisions (--base, bisect). */
  revision?: RevisionInfo;
  /** The command line of a measured run. */
  command: string;
  /** The loader's word on where the program's malloc went (one short traced run). */
  binding: BindingWitness | null;
  /** The no-preload target of a program that links an allocator itself: what really serves it. */
  linked?: LinkedAllocator;
  /** Another allocator's own API bound beside the malloc measured (a mixed-allocator process). */
  mixed?: MixedAllocators;
  warmups: RunSample[];
  runs: RunSample[];
  /** The run that failed; the target's later runs were skipped. */
  failure: FailureRecord | null;
}

export interface BenchRecord {
  format: typeof RECORD_FORMAT;
  kind: 'bench';
  /** The file name without .json: `<UTC timestamp>-<profile>`. */
  id: string;
  /** When the benchmark started (ISO 8601, UTC); the id's timestamp. */
  createdAt: string;
  /** False when a run failed: the failed target has no result. */
  complete: boolean;
  wallSeconds: number;
  profile: {
    name: string;
    file: string;
    description: string;
    /** `benchmark` (a csrc/bench program) or `command` (any command line); benchmark in older records. */
    kind?: 'benchmark' | 'command' | 'server';
    /** How to read the medians: `ops/s` and higher for benchmarks; a command's unit (default `s`, lower). */
    unit?: string;
    better?: 'lower' | 'higher';
    /** A command: whether every allocator's stdout had to equal the first's. */
    checkOutput?: boolean;
    /** HAKMEM_* variables of the user's shell that reached the runs. */
    shellEnv?: Record<string, string>;
    program: string;
    args: string[];
    threads: number;
    env: Record<string, string>;
    runs: number;
    warmup: number;
    timeoutSeconds: number;
  };
  settings: {
    /** The target the others are compared with. */
    baseline: string;
    noise: number;
  };
  machine: MachineInfo;
  /** The compiler the benchmark programs were built with. */
  compiler: string;
  /** The git state of the hak checkout that ran the benchmark. */
  source: GitState;
  targets: TargetRecord[];
  warnings: string[];
}
