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

it('advertises only versions its codecs handle', async () => {
  const { ADVERTISED } = await import('../../lib/kafka/protocol/versions');
  const { API_TABLE } = await import('../../lib/kafka/protocol/generated');
  for (const a of ADVERTISED) {
    const t = API_TABLE.find((x) => x.key === a.key);
    expect(t, a.name).toBeDefined();
    expect(a.name).toBe(t!.name);
    expect(a.minVersion).toBeGreaterThanOrEqual(t!.minVersion);
    expect(a.maxVersion).toBeLessThanOrEqual(t!.maxVersion);
  }
});
