import {HakCommand} from '../base-command.js';
import {COMPILERS, DEFAULT_FEATURES, DEFAULT_TOOLCHAIN, SANITIZERS, TOGGLES} from '../features.js';
import {renderTable} from '../ui/table.js';

export interface FeatureJson {
  key: string;
  flag: string;
  makeVariable: string;
  default: boolean | number;
  values: (boolean | number)[];
  meaning: string;
  mechanism: string;
}

export interface FeaturesJson {
  toggles: FeatureJson[];
  toolchain: {cc: {default: string; values: string[]}; sanitize: {default: null; values: string[]}; debug: {default: boolean}};
}

export default class Features extends HakCommand {
  static override summary = 'List hakmem\'s feature toggles: meaning, default and the mechanism each switches.';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  async run(): Promise<FeaturesJson> {
    await this.parse(Features);
    const toggles: FeatureJson[] = TOGGLES.map((toggle) => ({
      key: toggle.key,
      flag: toggle.flag,
      makeVariable: toggle.makeVariable,
      default: DEFAULT_FEATURES[toggle.key],
      values: toggle.key === 'stats' ? [0, 1, 2] : [true, false],
      meaning: toggle.meaning,
      mechanism: toggle.mechanism,
    }));

    if (!this.jsonEnabled()) {
      const rows = toggles.map((toggle) => [
        toggle.key === 'stats' ? '--stats 0|1|2' : `--[no-]${toggle.flag}`,
        typeof toggle.default === 'boolean' ? (toggle.default ? 'on' : 'off') : String(toggle.default),
        toggle.makeVariable,
        toggle.meaning,
        toggle.mechanism,
      ]);
      this.log(await renderTable(['flag', 'default', 'make', 'meaning', 'mechanism (design notes)'], rows, {wrap: [3, 4]}));
      this.log('');
      this.log(`Toolchain: --cc ${COMPILERS.join('|')} (default ${DEFAULT_TOOLCHAIN.cc}), --sanitize ${SANITIZERS.join('|')}, --debug.`);
    }

    return {
      toggles,
      toolchain: {
        cc: {default: DEFAULT_TOOLCHAIN.cc, values: [...COMPILERS]},
        sanitize: {default: null, values: [...SANITIZERS]},
        debug: {default: DEFAULT_TOOLCHAIN.debug},
      },
    };
  }
}
