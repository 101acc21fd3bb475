// Start-up time of the hak command: runs `node -e 0` (the floor) and the given hak command
// lines interleaved, N times each, and prints the median and minimum wall time of each and how
// far each median lies above the floor's (hak --help should stay within 100 ms of it).
//   node scripts/startup-time.mjs [runs=31] [-- hak arguments ...]
import {spawnSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const separator = process.argv.indexOf('--');
const runs = Number(process.argv[2] && process.argv[2] !== '--' ? process.argv[2] : 31);
const hakArgs = separator === -1 ? [['--help'], ['features']] : [process.argv.slice(separator + 1)];
const commands = [
  {label: 'node -e 0', file: process.execPath, args: ['-e', '0']},
  ...hakArgs.map((args) => ({label: `hak ${args.join(' ')}`, file: process.execPath, args: ['bin/run.js', ...args]})),
];

const times = commands.map(() => []);
for (let run = 0; run < runs; run++) {
  for (const [index, command] of commands.entries()) {
    const started = process.hrtime.bigint();
    const result = spawnSync(command.file, command.args, {cwd: root, stdio: 'ignore'});
    if (result.status !== 0) throw new Error(`${command.label} exited with ${result.status}`);
    times[index].push(Number(process.hrtime.bigint() - started) / 1e6);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const floor = median(times[0]);
for (const [index, command] of commands.entries()) {
  const sorted = [...times[index]].sort((a, b) => a - b);
  const above = index === 0 ? '' : `   ${(median(sorted) - floor).toFixed(0).padStart(4)} ms above node`;
  console.log(`${command.label.padEnd(24)} median ${median(sorted).toFixed(0).padStart(4)} ms   min ${sorted[0].toFixed(0).padStart(4)} ms${above}   (${runs} runs)`);
}
