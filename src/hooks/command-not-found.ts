import {Errors, type Hook} from '@oclif/core';

import {formatError} from '../base-command.js';
import {ExitCode, UsageError} from '../errors.js';

/** An unknown command gets the same one-line usage error, and exit code, as an unknown flag. */
const hook: Hook.CommandNotFound = async function (options) {
  const commands = options.config.commandIDs.filter((id) => !id.includes(':')).sort();
  const error = new UsageError(`unknown command "${options.id}".`, {
    hint: `Commands: ${commands.join(', ')}. See hak --help.`,
  });
  if (options.argv?.includes('--json')) process.stdout.write(`${JSON.stringify({error: error.toJSON()}, null, 2)}\n`);
  else process.stderr.write(formatError(error));
  throw new Errors.ExitError(ExitCode.Usage);
};

export default hook;
