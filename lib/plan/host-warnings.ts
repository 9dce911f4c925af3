/**
 * Host warnings for `sluice plan` (next-stage.md D4, last row of the outputs): signs that the
 * measured figures may flatter the host or that the workload will press on memory. The signals
 * are read here (hostSignals) and judged by a pure function (hostWarnings), so tests can feed them.
 *
 * - Virtualised: `systemd-detect-virt --vm` when it exists, the CPU's "hypervisor" flag in
 *   /proc/cpuinfo, or a DMI product/vendor naming a hypervisor (also the fingerprint's
 *   virtualization field). A VM's virtio disk may acknowledge a flush from the host's cache.
 * - Transparent huge pages set to "always" (/sys/kernel/mm/transparent_hugepage/enabled).
 * - MemAvailable under the hot tail: the newest bytes that readers are expected to find in the page
 *   cache, min(retention, write rate × 30 s), the Apache Kafka operations guide's rule of thumb
 *   (buffer 30 s of writes).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { Figure } from './model';

export interface HostSignals {
  /** What says the host is a VM ("kvm per systemd-detect-virt"...), or null. */
  virtualization: string | null;
  /** The active transparent-huge-pages mode (always, madvise, never), or null if unknown. */
  thp: string | null;
  memAvailableBytes: number;
  hotTailBytes: number;
}

export const HOT_TAIL_SECONDS: Figure = { value: 30, unit: 's', source: 'assumed', basis: 'Apache Kafka operations guide (Hardware and OS): buffer 30 s of writes, memory ≈ write throughput × 30' };

const HYPERVISOR = /kvm|qemu|vmware|virtualbox|xen|hyper-v|virtual machine|bochs|parallels|bhyve|openstack|amazon ec2|google compute engine|hvm domu/i;

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The first sign of a hypervisor, or null; `dmiHint` is the fingerprint's virtualization field. */
export function detectVirtualization(dmiHint = ''): string | null {
  const r = spawnSync('systemd-detect-virt', ['--vm'], { encoding: 'utf8', timeout: 2000 });
  const out = r.status === 0 ? r.stdout.trim() : '';
  if (out !== '' && out !== 'none') return `${out} per systemd-detect-virt`;
  if (/^flags\s*:.*\bhypervisor\b/m.test(read('/proc/cpuinfo') ?? '')) return 'the hypervisor CPU flag in /proc/cpuinfo';
  for (const dmi of [dmiHint, read('/sys/class/dmi/id/product_name'), read('/sys/class/dmi/id/sys_vendor')]) {
    if (dmi && HYPERVISOR.test(dmi)) return `${dmi.trim()} per DMI`;
  }
  return null;
}

/** "always [madvise] never" → "madvise". */
export function activeThp(text: string | null): string | null {
  return text === null ? null : (/\[(\w+)\]/.exec(text)?.[1] ?? null);
}

export function hotTailBytes(writeBytesPerSec: number, retentionBytes: number): number {
  return Math.min(retentionBytes, writeBytesPerSec * HOT_TAIL_SECONDS.value);
}

export function hostSignals(o: { dmiHint: string; memAvailableBytes: number; writeBytesPerSec: number; retentionBytes: number }): HostSignals {
  return {
    virtualization: detectVirtualization(o.dmiHint),
    thp: activeThp(read('/sys/kernel/mm/transparent_hugepage/enabled')),
    memAvailableBytes: o.memAvailableBytes,
    hotTailBytes: hotTailBytes(o.writeBytesPerSec, o.retentionBytes),
  };
}

const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;

export function hostWarnings(s: HostSignals): string[] {
  const out: string[] = [];
  if (s.virtualization !== null) out.push(`virtualised host (${s.virtualization}): virtio flush may be cached by the host: fdatasync latency may be optimistic`);
  if (s.thp === 'always') out.push('transparent huge pages are "always": khugepaged compaction can stall the process (latency spikes); madvise or never is the usual setting for a broker');
  if (s.memAvailableBytes < s.hotTailBytes) out.push(`MemAvailable ${gb(s.memAvailableBytes)} is under the hot tail ${gb(s.hotTailBytes)} (min(retention, peak write rate × ${HOT_TAIL_SECONDS.value} s)): tail reads will go to disk`);
  return out;
}
