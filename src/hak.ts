/**
 * The command table. Bundled with its dependencies into dist/hak.js, which oclif loads (through
 * package.json's COMMANDS and hooks) only to run a command; help comes from the manifest the build
 * writes, and bin/run.js starts from src/cli.ts. Config is here for the build's manifest.
 */
import Bench from './commands/bench.js';
import Bisect from './commands/bisect.js';
import Build from './commands/build.js';
import Check from './commands/check.js';
import Compare from './commands/compare.js';
import Doctor from './commands/doctor.js';
import Features from './commands/features.js';
import Perf from './commands/perf.js';
import Profiles from './commands/profiles.js';
import Report from './commands/report.js';
import Verify from './commands/verify.js';

export {Config, execute, settings} from '@oclif/core';
export {default as commandNotFound} from './hooks/command-not-found.js';

export const COMMANDS = {
  bench: Bench,
  bisect: Bisect,
  build: Build,
  check: Check,
  compare: Compare,
  doctor: Doctor,
  features: Features,
  perf: Perf,
  profiles: Profiles,
  report: Report,
  verify: Verify,
};
