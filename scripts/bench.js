#!/usr/bin/env node
// Runs every bench/*.bench.ts, one Node process each, under tsx.
//
//   npm run bench                  all of them; each writes bench/results/<suite>.md
//   npm run bench -- log           only the files whose name contains "log"
//   BENCH_TINY=1 npm run bench     every task for a few milliseconds (CI: checks none has rotted)
//
// The environment is passed through (BENCH_TIME_MS, BENCH_DIR, SLUICE_ADDON_PATH, NODE_OPTIONS...).
// Node runs with --expose-gc so the harness can collect garbage between tasks.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const benchDir = path.join(root, 'bench');
const filters = process.argv.slice(2);

const files = fs
  .readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no bench/*.bench.ts matches ${filters.join(' ')}`);
  process.exit(1);
}

const addon = process.env.SLUICE_ADDON_PATH ?? path.join(root, 'build', 'Release', 'sluice.node');
if (!fs.existsSync(addon)) {
  console.error(`${path.relative(root, addon)} is missing: build the addon first (npm run install)`);
  process.exit(1);
}

const command = process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node scripts/bench.js';
let failed = 0;
for (const file of files) {
  const rel = path.join('bench', file);
  const env = { ...process.env, SLUICE_BENCH_COMMAND: `${command}${filters.length > 0 ? ` -- ${filters.join(' ')}` : ''} (${rel})` };
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', rel], { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`${rel} failed (${r.signal ?? `exit code ${r.status}`})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
