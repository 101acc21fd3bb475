/**
 * The CLI's entry point and command table. Bundled with its dependencies into dist/hak.js so
 * that start-up loads one file instead of several hundred modules; package.json points oclif
 * at COMMANDS and the hooks here.
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

export {execute, settings} from '@oclif/core';
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
