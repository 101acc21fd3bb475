/**
 * What bin/run.js loads first: oclif's entry point and nothing of hak's commands. With the
 * manifest the build writes (oclif.manifest.json: every command's flags, args and texts), help
 * and command lookup need no command code; dist/hak.js, the command table, is loaded only to run
 * a command. Importing oclif's modules by path skips the parts of its index hak's start-up does
 * not use.
 */
export {execute} from '@oclif/core/execute';
export {settings} from '@oclif/core/settings';
