import {Errors, type Hook} from '@oclif/core';

import {formatError} from '../base-command.js';
import {ExitCode, UsageError} from '../errors.js';

/**
 * An unknown command gets the same one-line usage error, and exit code, as an unknown flag.
 * With spaces as topic separators, `hak features extra` arrives here as "features:extra":
 * that is a stray argument to a known command, and is reported as such.
 */
const hook: Hook.CommandNotFound = async function (options) {
  const commands = options.config.commandIDs.filter((id) => !id.includes(':')).sort();
  const words = options.id.split(':');
  const known = commands.find((command) => command === words[0]);
  const error = known
    ? new UsageError(`Unexpected argument: ${words.slice(1).join(' ')}`, {hint: `See hak ${known} --help.`})
    : new UsageError(`unknown command "${words.join(' ')}".`, {hint: `Commands: ${commands.join(', ')}. See hak --help.`});
  if (options.argv?.includes('--json')) process.stdout.write(`${JSON.stringify({error: error.toJSON()}, null, 2)}\n`);
  else process.stderr.write(formatError(error));
  throw new Errors.ExitError(ExitCode.Usage);
};

export default hook;
