/**
 * Engine calibration for `sluice plan`: the real Broker's append path, one partition per run,
 * batches of 100 messages of the workload's size, all confirms awaited, per durability mode,
 * `runs` times each (median with min/max). Also the stored bytes per message, from the log files
 * written (RecordBatch overhead included). Not yet the OMB backlog-rule ramp.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Broker } from '../broker/broker';
import { measuredRuns, type Figure } from './model';
import { RAMP_MODES, syncOf, type RampMode } from './ramp';


function logBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.log')) continue;
    // Logs are preallocated: count up to the last non-zero byte.
    const b = fs.readFileSync(path.join(e.parentPath, e.name));
    let end = b.length;
    while (end > 0 && b[end - 1] === 0) end--;
    n += end;
  }
  return n;
}

async function once(mode: RampMode, messageSize: number, batches: number): Promise<{ rate: number; stored: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-cal-'));
  try {
    const broker = await Broker.open(dir);
    await broker.createTopic('t', { partitions: 1, ...syncOf(mode) });
    const batch = Array.from({ length: 100 }, () => ({ value: Buffer.alloc(messageSize, 5) }));
    const t0 = process.hrtime.bigint();
    const confirms = [];
    for (let i = 0; i < batches; i++) confirms.push(broker.sendBatch('t', batch));
    await Promise.all(confirms);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    await broker.close();
    return { rate: (batches * 100) / s, stored: logBytes(path.join(dir, 'topics')) / (batches * 100) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface Calibration {
  appendRate: Record<string, Figure>;
  storedBytesPerMessage: Figure;
}

export async function calibrate(messageSize: number, runs: number, batches: number): Promise<Calibration> {
  const appendRate: Record<string, Figure> = {};
  let stored = 0;
  for (const mode of RAMP_MODES) {
    const xs: number[] = [];
    for (let r = 0; r < runs; r++) {
      const o = await once(mode, messageSize, batches);
      xs.push(o.rate);
      stored = o.stored;
    }
    appendRate[mode.name] = measuredRuns(xs, 'msg/s', `Broker.sendBatch, ${batches} batches of 100 × ${messageSize} B, 1 partition, sync ${mode.name}, all confirms awaited`);
  }
  return { appendRate, storedBytesPerMessage: { value: stored, unit: 'B', source: 'measured', basis: 'log bytes up to the last non-zero byte (preallocated tails excluded) ÷ messages written in calibration' } };
}
