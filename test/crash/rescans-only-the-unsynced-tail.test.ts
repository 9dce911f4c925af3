/**
 * Rescans only the unsynced tail. Method: a child process (test/helpers/checkpoint-child.cjs, over
 * dist/) writes ~3 MB to an 8 MiB segment, flushes, writes ~1.2 MB more and is killed with
 * SIGKILL, so that the flusher has recorded in sluice.checkpoint how far its last completed sync
 * reached. Copies of the directory are then reopened: as left, the recovery report must show the
 * synced prefix walked without CRCs (checkpointBytes: exactly where the flush left the segment,
 * found from the batch headers) and only the rest CRC-scanned (bytesScanned), with every message
 * back; with sluice.checkpoint damaged or removed, the open falls back to the full rescan; with a
 * batch below the checkpointed position damaged, open fails with CORRUPT naming the file and the
 * batch's position, and `repair` cuts there; with the tail damaged above it, the tail is cut as
 * before. A second child, with SLUICE_FAULT_INJECTION=1, confirms messages under sync 'always'
 * and calls simulatePowerLoss(): the reopen must use the checkpoint and keep every confirmed one.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { Log, SluiceError } from '../../lib/index';
import { tmpDir } from '../helpers/tmp';
import { batchesOf, copyDir, overwrite, segmentsOf } from '../helpers/crash-files.cjs';
import { openError } from '../helpers/crashed-log';

const CHILD = path.join(__dirname, '..', 'helpers', 'checkpoint-child.cjs');
const OPTIONS = { segmentBytes: 8 * 1024 * 1024, sync: 'none' as const };
const value = (o: number): string => `v${o}`.padEnd(1000, '.');

/** Runs the child in `mode`; for 'kill', SIGKILLs it once it is ready. Returns its lines. */
function runChild(mode: 'kill' | 'power', dir: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, mode, dir], {
      env: { ...process.env, SLUICE_FAULT_INJECTION: mode === 'power' ? '1' : '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (mode === 'kill' && out.includes('READY')) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const killed = mode === 'kill' && signal === 'SIGKILL';
      if (!killed && code !== 0) reject(new Error(`checkpoint-child ${mode} exited with ${code ?? signal}: ${err}`));
      else resolve(out.trim().split('\n'));
    });
  });
}

function expectAll(log: Log, end: number): void {
  let o = 0;
  while (o < end) {
    const records = log.read(o);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(r.offset).toBe(o);
      expect(r.value?.toString()).toBe(value(o));
      o++;
    }
  }
  expect(log.endOffset).toBe(end);
}

interface Killed {
  dir: string;
  durable: number;
  end: number;
  active: string;
  syncedEnd: number; // where the batch holding the last flushed offset ends
  dataEnd: number;
}

async function killedLog(): Promise<Killed> {
  const dir = tmpDir();
  const lines = await runChild('kill', dir);
  const durable = Number(lines.find((l) => l.startsWith('F '))!.slice(2));
  const end = Number(lines.find((l) => l.startsWith('READY '))!.slice(6));
  const segments = segmentsOf(dir);
  expect(segments.length).toBe(1);
  const batches = batchesOf(fs.readFileSync(segments[0].log));
  const synced = batches.find((b) => b.nextOffset === durable)!;
  expect(synced).toBeDefined();
  return { dir, durable, end, active: segments[0].log, syncedEnd: synced.end, dataEnd: batches[batches.length - 1].end };
}

function copyOf(k: Killed): { dir: string; active: string } {
  const dir = tmpDir();
  fs.rmSync(dir, { recursive: true });
  copyDir(k.dir, dir);
  return { dir, active: k.active.replace(k.dir, dir) };
}

describe('rescans only the unsynced tail', () => {
  it('walks the synced prefix without CRCs after a kill and CRC-scans only what followed the last sync', async () => {
    const k = await killedLog();
    expect(k.end).toBe(4200);
    const log = await Log.open(k.dir, OPTIONS);
    try {
      const r = log.recovery;
      expect(r.cleanShutdown).toBe(false);
      expect(r.segmentsScanned).toBe(1);
      expect(r.checkpointBytes).toBe(k.syncedEnd);
      expect(r.bytesScanned).toBe(k.dataEnd - k.syncedEnd);
      expect(r.bytesTruncated).toBe(0);
      expectAll(log, k.end);
    } finally {
      await log.close();
    }
  });

  it('falls back to a full rescan when sluice.checkpoint is damaged, short or missing', async () => {
    const k = await killedLog();
    const damages: [string, (file: string) => void][] = [
      ['both slots overwritten', (f) => overwrite(f, 0, Buffer.alloc(8192, 0xa5))],
      ['the newest slot torn, the other empty', (f) => overwrite(f, 0, Buffer.alloc(8192, 0))],
      ['cut short', (f) => fs.truncateSync(f, 20)],
      ['removed', (f) => fs.rmSync(f)],
    ];
    for (const [what, damage] of damages) {
      const c = copyOf(k);
      damage(path.join(c.dir, 'sluice.checkpoint'));
      const log = await Log.open(c.dir, OPTIONS);
      try {
        expect(log.recovery.checkpointBytes, what).toBe(0);
        expect(log.recovery.bytesScanned, what).toBe(k.dataEnd);
        expectAll(log, k.end);
      } finally {
        await log.close();
      }
    }
  });

  it('reports damage below the checkpointed position as CORRUPT, and repair cuts there', async () => {
    const k = await killedLog();
    const batches = batchesOf(fs.readFileSync(k.active));
    const below = batches.filter((b) => b.end <= k.syncedEnd);
    expect(below.length).toBeGreaterThan(2);
    const victim = below[Math.floor(below.length / 2)];
    for (const [what, at, bytes] of [
      ['a bad magic', victim.position + 16, Buffer.from([9])],
      ['a zeroed header', victim.position, Buffer.alloc(61)],
      ['a zeroed sector', victim.position, Buffer.alloc(512)],
    ] as const) {
      const c = copyOf(k);
      overwrite(c.active, at, bytes);
      const err = await openError(c.dir, OPTIONS);
      expect(err, what).toBeInstanceOf(SluiceError);
      expect(err.code, what).toBe('CORRUPT');
      expect(err.path, what).toBe(c.active);
      expect(err.position, what).toBe(victim.position);
      const repaired = await Log.open(c.dir, { ...OPTIONS, repair: true });
      try {
        expect(repaired.endOffset, what).toBe(victim.baseOffset);
        expectAll(repaired, victim.baseOffset);
      } finally {
        await repaired.close();
      }
      // The cut took back what the checkpoint named: a later kill must not trust it.
      const again = await Log.open(c.dir, OPTIONS);
      expect(again.recovery.checkpointBytes, what).toBe(0);
      await again.close();
    }
  });

  it('cuts a torn tail above the checkpointed position, as before', async () => {
    const k = await killedLog();
    const batches = batchesOf(fs.readFileSync(k.active));
    const above = batches.filter((b) => b.position >= k.syncedEnd);
    expect(above.length).toBeGreaterThan(2);
    const torn = above[Math.floor(above.length / 2)];
    const c = copyOf(k);
    fs.truncateSync(c.active, torn.position + 100);
    const log = await Log.open(c.dir, OPTIONS);
    try {
      expect(log.recovery.checkpointBytes).toBe(k.syncedEnd);
      expect(log.recovery.bytesTruncated).toBeGreaterThan(0);
      expectAll(log, torn.baseOffset);
    } finally {
      await log.close();
    }
  });

  it('keeps every confirmed message across a simulated power loss, using the checkpoint', async () => {
    const dir = tmpDir();
    const lines = await runChild('power', dir);
    const { confirmed } = JSON.parse(lines[lines.length - 1]) as { confirmed: number };
    expect(confirmed).toBeGreaterThanOrEqual(3000);
    const log = await Log.open(dir, { ...OPTIONS, sync: 'always' });
    try {
      expect(log.recovery.cleanShutdown).toBe(false);
      expect(log.recovery.checkpointBytes).toBeGreaterThan(0);
      expect(log.endOffset).toBeGreaterThanOrEqual(confirmed);
      expectAll(log, log.endOffset);
    } finally {
      await log.close();
    }
  });
});
