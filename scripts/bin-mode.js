#!/usr/bin/env node
// Makes the package's bin executable after tsc writes it (tsc writes files 0644): without this,
// `npx sluice` on a fresh clone fails with "Permission denied".
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { bin } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
for (const file of Object.values(bin)) {
  const p = path.join(root, file);
  fs.chmodSync(p, fs.statSync(p).mode | 0o111);
}
