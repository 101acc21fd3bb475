#!/usr/bin/env -S node --import tsx
// Runs the TypeScript sources directly (no build step), for development.
import {rmSync} from 'node:fs';

import {execute} from '@oclif/core';

// oclif.manifest.json describes the commands of the last build (dist/), which the sources may
// have outgrown: without it, oclif reads the commands themselves. npm run build writes it again.
rmSync(new URL('../oclif.manifest.json', import.meta.url), {force: true});
await execute({development: true, dir: import.meta.url});
