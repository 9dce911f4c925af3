/**
 * Loopback fetch bandwidth for `sluice plan` (next-stage.md D4, measurement 5): a file of `bytes`
 * (in the page cache, as a tail read is) sent to a 127.0.0.1 TCP socket through the Kafka server's
 * own RegionSender (lib/kafka/region-sender.ts), once with zero copy (native.sendFile, sendfile(2))
 * and once copying (read on the thread pool + socket.write). The time runs until the receiving
 * side has every byte. When sendfile cannot serve (not Linux, or the kernel refuses the pair) the
 * sender falls back to copies; the zero-copy figure then says so in its basis and carries
 * `unsupported`, rather than failing.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileRegion } from '../kafka/file-region';
import { RegionSender, type SendCounters } from '../kafka/region-sender';
import { measuredRuns, type Figure } from './model';

/** Regions of this size, like a fetch response's record sets (1 MiB, the default fetch max per partition). */
const REGION_BYTES = 1 << 20;

async function sendOnce(file: string, bytes: number, zeroCopy: boolean): Promise<{ bytesPerSec: number; counters: SendCounters }> {
  let received = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((r) => (done = r));
  const server = net.createServer((s) => s.on('data', (d: Buffer) => { received += d.length; if (received >= bytes) done(); }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  const fd = fs.openSync(file, 'r');
  const counters: SendCounters = { zeroCopyBytes: 0, copiedBytes: 0 };
  try {
    const sender = new RegionSender(socket, counters, zeroCopy);
    const t0 = performance.now();
    for (let at = 0; at < bytes; at += REGION_BYTES) await sender.write([new FileRegion(fd, at, Math.min(REGION_BYTES, bytes - at), () => {})]);
    await all;
    return { bytesPerSec: bytes / ((performance.now() - t0) / 1000), counters };
  } finally {
    socket.destroy();
    await new Promise((r) => server.close(r));
    fs.closeSync(fd);
  }
}

export interface LoopbackFigures {
  sendfileBytesPerSec: Figure & { unsupported?: string };
  copyBytesPerSec: Figure;
}

export async function loopbackProbe(bytes: number, runs: number): Promise<LoopbackFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plan-loop-'));
  const file = path.join(dir, 'region');
  try {
    fs.writeFileSync(file, Buffer.alloc(bytes, 9));
    fs.readFileSync(file); // in the page cache, as the tail a consumer reads
    const zc: number[] = [], cp: number[] = [];
    let zeroCopyBytes = 0;
    for (let r = 0; r < runs; r++) {
      const z = await sendOnce(file, bytes, true);
      zc.push(z.bytesPerSec);
      zeroCopyBytes += z.counters.zeroCopyBytes;
      cp.push((await sendOnce(file, bytes, false)).bytesPerSec);
    }
    const how = `${bytes} B file (page cache) to a 127.0.0.1 TCP socket in ${REGION_BYTES} B regions through RegionSender, until the receiver has every byte`;
    const sendfile: LoopbackFigures['sendfileBytesPerSec'] = measuredRuns(zc, 'B/s', `${how}, zero copy (native.sendFile = sendfile(2), 4 KiB probes when the socket is full)`);
    if (zeroCopyBytes === 0) {
      sendfile.unsupported = `sendfile unsupported here (${process.platform}): RegionSender fell back to copies, so this figure is the copy path`;
      sendfile.basis += `; ${sendfile.unsupported}`;
    }
    return { sendfileBytesPerSec: sendfile, copyBytesPerSec: measuredRuns(cp, 'B/s', `${how}, copying (fs.read on the thread pool + socket.write)`) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
