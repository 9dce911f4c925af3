/**
 * Long runs of the independent power-loss harness (test/helpers/powerloss/):
 *   npm run powerloss -- --iterations N [--seed S] [--drivers log,broker,kafka] [--planted]
 * Splits N power cuts evenly across the drivers, 20 cuts per fresh directory (each directory's
 * seed derived from S), prints one line per directory and a JSON summary, and exits 1 at the
 * first lost confirmation (the message names the seed to replay). Build first: npx tsc -p . (the
 * children load dist/).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dirSeed } from '../test/helpers/durability-crash-loop';
import { DRIVERS, runDriver, type DriverName } from '../test/helpers/powerloss/drivers';
import { emptyCutStats } from '../test/helpers/powerloss/power-cut';

const CUTS_PER_DIR = 20;

function parse(argv: string[]): { iterations: number; seed: number; drivers: DriverName[]; planted: boolean } {
  const o = { iterations: 30, seed: (Math.random() * 0x100000000) >>> 0, drivers: [...DRIVERS] as DriverName[], planted: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--iterations') o.iterations = Number(argv[++i]);
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--drivers') o.drivers = argv[++i].split(',') as DriverName[];
    else if (a === '--planted') o.planted = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isSafeInteger(o.iterations) || o.iterations <= 0) throw new Error('--iterations must be a positive integer');
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) throw new Error('--seed must be a 32-bit unsigned integer');
  for (const d of o.drivers) if (!DRIVERS.includes(d)) throw new Error(`unknown driver ${d} (one of ${DRIVERS.join(', ')})`);
  return o;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  console.log(`powerloss: seed=${o.seed} iterations=${o.iterations} drivers=${o.drivers.join(',')}${o.planted ? ' planted' : ''}`);
  const started = Date.now();
  const total = { ...emptyCutStats(), confirmed: 0 };
  let dirIndex = 0;
  for (const driver of o.drivers) {
    let left = Math.ceil(o.iterations / o.drivers.length);
    while (left > 0) {
      const iterations = Math.min(CUTS_PER_DIR, left);
      const seed = dirSeed(o.seed, dirIndex++);
      const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-powerloss-${driver}-`));
      try {
        const r = await runDriver({ driver, seed, iterations, workDir, planted: o.planted });
        for (const k of Object.keys(r.cuts) as (keyof typeof r.cuts)[]) total[k] += r.cuts[k];
        total.confirmed += r.confirmed;
        console.log(`${driver} seed=${seed} cuts=${iterations} confirmed=${r.confirmed} ${JSON.stringify(r.cuts)}`);
      } catch (e) {
        throw new Error(`${driver} seed=${seed}: ${e instanceof Error ? e.message : String(e)} (kept: ${workDir}, the last cut in last-cut/)`);
      }
      fs.rmSync(workDir, { recursive: true, force: true });
      left -= iterations;
    }
  }
  console.log(`powerloss: seed=${o.seed} done in ${Math.round((Date.now() - started) / 1000)} s ${JSON.stringify(total)}`);
}

let finished = false;
process.on('exit', (code) => {
  // A promise nothing will ever settle ends a Node process with code 0: that is no pass.
  if (!finished && code === 0) {
    console.error('powerloss: FAILED: the run stopped with nothing left to wait for');
    process.exitCode = 1;
  }
});

main().then(() => (finished = true), (e: unknown) => {
  finished = true;
  console.error(`powerloss: FAILED: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
