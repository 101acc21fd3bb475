import {HakCommand} from '../base-command.js';
import {type CheckStatus, type DoctorReport, runDoctor} from '../doctor.js';
import {MissingRequirementsError} from '../errors.js';
import {renderTable} from '../ui/table.js';

const STATUS_TEXT: Record<CheckStatus, string> = {ok: 'ok', warn: 'warning', fail: 'MISSING'};

export default class Doctor extends HakCommand {
  static override summary = 'Check compilers, make, perf, valgrind and the peer allocators; print the fix for anything missing.';

  static override description =
    'Exits 3 when something required is missing, after printing the command that installs it. Warnings (hardware counters unavailable, git missing) do not fail.';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  async run(): Promise<DoctorReport> {
    await this.parse(Doctor);
    const spinner = await this.spinner('checking tools');
    const report = await runDoctor();
    spinner.stop();

    if (!this.jsonEnabled()) {
      const rows = report.checks.map((check) => [check.name, STATUS_TEXT[check.status], check.detail]);
      this.log(await renderTable(['check', 'status', 'detail'], rows, {wrap: [2]}));
      // Missing packages share one install command; other fixes (sysctl, HAK_CSRC) follow it.
      const otherFixes = report.checks.filter((check) => check.status !== 'ok' && check.fix && !check.debianPackage).map((check) => check.fix!);
      const fixes = [...new Set([...(report.fix ? [report.fix] : []), ...otherFixes])];
      if (fixes.length > 0) {
        this.log('');
        this.log('To fix:');
        for (const fix of fixes) this.log(`  ${fix}`);
      }
    }

    if (!report.ok) {
      const missing = report.checks.filter((check) => check.status === 'fail' && check.required).map((check) => check.name);
      throw new MissingRequirementsError(`missing: ${missing.join(', ')}.`, {...report}, 'The commands under "To fix" install or enable them.');
    }

    return report;
  }
}
