/**
 * Host probes for `sluice plan`, run on the data directory's filesystem: sequential write
 * bandwidth (a growing file, fdatasync at the end), fdatasync latency (small appends, each
 * synced), memory copy bandwidth, cores, MemAvailable, the fd limit, free disk and a fingerprint.
 * Each timed probe runs `runs` times; the figure is the median with min/max.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { measuredRuns, type HostFigures } from './model';


function writeBandwidth(dir: string, bytes: number): number {
  const file = path.join(dir, `probe-write-${process.pid}`);
  const chunk = Buffer.alloc(1 << 20, 7);
  const fd = fs.openSync(file, 'w');
  const t0 = process.hrtime.bigint();
  for (let n = 0; n < bytes; n += chunk.length) fs.writeSync(fd, chunk);
  fs.fdatasyncSync(fd);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.closeSync(fd);
  fs.rmSync(file, { force: true });
  return bytes / s;
}

function fdatasyncP99(dir: string, count: number): number {
  const file = path.join(dir, `probe-sync-${process.pid}`);
  const fd = fs.openSync(file, 'w');
  const buf = Buffer.alloc(4096, 1);
  const lat: number[] = [];
  for (let i = 0; i < count; i++) {
    fs.writeSync(fd, buf);
    const t0 = process.hrtime.bigint();
    fs.fdatasyncSync(fd);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  fs.closeSync(fd);
  fs.rmSync(file, { force: true });
  lat.sort((a, b) => a - b);
  return lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))];
}

function memcopy(bytes: number): number {
  const src = Buffer.alloc(16 << 20, 3);
  const dst = Buffer.allocUnsafe(src.length);
  const t0 = process.hrtime.bigint();
  for (let n = 0; n < bytes; n += src.length) src.copy(dst);
  return bytes / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function memAvailable(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return os.freemem();
}

function fdLimit(): number {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {}
  return 1024;
}

export interface Fingerprint {
  cpu: string;
  kernel: string;
  node: string;
  fsType: string;
  mountOptions: string;
  virtualization: string;
}

function mountOf(dir: string): { type: string; options: string } {
  try {
    const real = fs.realpathSync(dir);
    let best = { mp: '', type: 'unknown', options: '' };
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [, mp, type, options] = line.split(' ');
      if (mp && (real === mp || real.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length >= best.mp.length) best = { mp, type, options };
    }
    return { type: best.type, options: best.options };
  } catch {
    return { type: 'unknown', options: '' };
  }
}

function virtualization(): string {
  try {
    return fs.readFileSync('/sys/class/dmi/id/product_name', 'utf8').trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

export function fingerprint(dir: string): Fingerprint {
  const m = mountOf(dir);
  return { cpu: os.cpus()[0]?.model ?? 'unknown', kernel: os.release(), node: process.version, fsType: m.type, mountOptions: m.options, virtualization: virtualization() };
}

export interface ProbeOptions {
  runs: number;
  writeBytes: number;
  syncs: number;
}

export function probeHost(dir: string, o: ProbeOptions): HostFigures {
  fs.mkdirSync(dir, { recursive: true });
  const runs = Array.from({ length: o.runs }, (_, i) => i);
  const st = fs.statfsSync(dir);
  return {
    writeBytesPerSec: measuredRuns(runs.map(() => writeBandwidth(dir, o.writeBytes)), 'B/s', `sequential write of ${o.writeBytes} B in 1 MiB chunks + fdatasync, in ${dir}`),
    fdatasyncP99Ms: measuredRuns(runs.map(() => fdatasyncP99(dir, o.syncs)), 'ms', `p99 of ${o.syncs} fdatasync calls after 4 KiB appends`),
    memcopyBytesPerSec: measuredRuns(runs.map(() => memcopy(256 << 20)), 'B/s', '16 MiB Buffer.copy, 256 MiB total'),
    cores: { value: os.availableParallelism(), unit: 'cores', source: 'measured', basis: 'os.availableParallelism()' },
    memAvailableBytes: { value: memAvailable(), unit: 'B', source: 'measured', basis: 'MemAvailable in /proc/meminfo' },
    fdLimit: { value: fdLimit(), unit: 'fd', source: 'measured', basis: 'Max open files in /proc/self/limits' },
    diskFreeBytes: { value: st.bavail * st.bsize, unit: 'B', source: 'measured', basis: `statfs(${dir}) available blocks` },
  };
}
