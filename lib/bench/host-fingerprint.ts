/**
 * The host a bench ran on, for comparing results: CPU, cores, memory, kernel, the temp
 * directory's filesystem and mount options, virtualization, load average at the start, Node and
 * Sluice versions. Every probe is best effort: what cannot be read is 'unknown'.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface HostFingerprint {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  kernel: string;
  arch: string;
  virtualization: string;
  dataDir: string;
  filesystem: string;
  mountOptions: string;
  loadAverage: number[];
  node: string;
  sluice: string;
}

function tryRead(f: string): string | null {
  try {
    return fs.readFileSync(f, 'utf8').trim();
  } catch {
    return null;
  }
}

function virtualization(): string {
  try {
    return execFileSync('systemd-detect-virt', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (e) {
    const out = (e as { stdout?: string }).stdout?.trim();
    if (out) return out;
  }
  const product = tryRead('/sys/class/dmi/id/product_name');
  if (product) return `unknown (DMI product: ${product})`;
  return /hypervisor/.test(tryRead('/proc/cpuinfo') ?? '') ? 'a hypervisor (cpuinfo flag)' : 'unknown';
}

/** The mount holding `dir`: the longest mount point in /proc/mounts that prefixes it. */
function mountOf(dir: string): { fs: string; options: string } {
  const real = fs.realpathSync(dir);
  let best = { point: '', fs: 'unknown', options: 'unknown' };
  for (const line of (tryRead('/proc/mounts') ?? '').split('\n')) {
    const [, point, type, options] = line.split(' ');
    if (point === undefined) continue;
    if ((real === point || real.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length >= best.point.length) best = { point, fs: type, options };
  }
  return { fs: best.fs, options: best.options };
}

function sluiceVersion(): string {
  for (const p of ['../../package.json', '../../../package.json']) {
    try {
      return (require(p) as { version: string }).version;
    } catch {
      // next
    }
  }
  return 'unknown';
}

export function hostFingerprint(dataDir: string): HostFingerprint {
  const cpus = os.cpus();
  const m = mountOf(dataDir);
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${tryRead('/etc/debian_version') ? `(Debian ${tryRead('/etc/debian_version')})` : ''}`.trim(),
    kernel: os.release(),
    arch: os.arch(),
    virtualization: virtualization(),
    dataDir,
    filesystem: m.fs,
    mountOptions: m.options,
    loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
    node: process.version,
    sluice: sluiceVersion(),
  };
}
