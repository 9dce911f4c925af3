/**
 * The committed codecs in lib/kafka/protocol/generated/ are what the tables in apis/ generate: a
 * table edited without `npm run gen:kafka` fails here.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, it } from 'vitest';

it('lib/kafka/protocol/generated is up to date with the tables', () => {
  const root = path.resolve(__dirname, '..', '..');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gen-kafka-codecs.ts', '--check'], { cwd: root, encoding: 'utf8' });
  expect(r.stderr, 'run npm run gen:kafka').toBe('');
  expect(r.status).toBe(0);
}, 60_000);
