import {defineConfig} from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // @oclif/test captures process.stdout; vitest's console interception would hide it.
    disableConsoleIntercept: true,
    // Tests that spawn bin/run.js need dist/ compiled from the current sources.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
