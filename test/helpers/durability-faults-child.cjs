'use strict';
// Child process of test/integration/durability-faults.test.ts, run with SLUICE_FAULT_INJECTION=1:
// `node durability-faults-child.cjs <scenario> <dir>` plays one scenario against a log in <dir> and
// prints what it observed as one line of JSON (the parent asserts; this file only reports).
// Values are "v<offset>" so that the parent can check any record it reads back.
const fs = require('node:fs');
const path = require('node:path');
const { Log, faultInjection } = require('../../dist/index.js');

const [scenario, dir] = process.argv.slice(2);

/** An error as plain data. */
function describe(err) {
  if (err === null || err === undefined) return null;
  return {
    name: err.name,
    code: err.code,
    errno: err.errno,
    syscall: err.syscall,
    path: err.path,
    appended: err.appended,
    message: err.message,
    isRangeError: err instanceof RangeError,
  };
}

/** What a call did: { value } or { error }. */
function attempt(fn) {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: describe(err) };
  }
}

/** What a promise did: { value } or { error }. */
function outcome(promise) {
  return promise.then(
    (value) => ({ value }),
    (err) => ({ error: describe(err) }),
  );
}

const value = (offset) => `v${offset}`;
const appendNext = (log) => log.append(value(log.endOffset));

/** Appends n messages and waits for all their confirms; returns them. */
async function appendConfirmed(log, n) {
  const offsets = [];
  for (let i = 0; i < n; i++) offsets.push(appendNext(log));
  return Promise.all(offsets.map((o) => log.confirm(o)));
}

function readValues(log, from, to) {
  const out = [];
  let o = from;
  while (o < to) {
    const records = log.read(o);
    if (records.length === 0) break;
    for (const r of records) {
      if (r.offset >= to) break;
      out.push([r.offset, r.value === null ? null : r.value.toString()]);
    }
    o = records[records.length - 1].offset + 1;
  }
  return out;
}

const segmentFiles = () => fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort();

async function writeEio(sync) {
  const log = await Log.open(dir, { sync, segmentBytes: 1 << 20 });
  const before = await appendConfirmed(log, 10);
  faultInjection.arm('write', 'EIO', 1);
  const pending = [];
  for (let i = 0; i < 5; i++) pending.push(appendNext(log));
  const pendingOutcomes = await Promise.all(pending.map((o) => outcome(log.confirm(o))));
  faultInjection.disarm('write');
  const r = {
    before,
    pendingOutcomes,
    highWatermark: log.highWatermark,
    durableOffset: log.durableOffset,
    appendAfter: attempt(() => appendNext(log)),
    sealAfter: attempt(() => log.seal()),
    readEarlier: attempt(() => readValues(log, 0, 10)),
  };
  r.close = await outcome(log.close());
  return r;
}

const scenarios = {
  // EIO from the next fsync/msync under sync 'always'.
  async 'sync-eio'() {
    const log = await Log.open(dir, { sync: 'always', segmentBytes: 1 << 20 });
    const before = await appendConfirmed(log, 10);
    const durableBefore = log.durableOffset;
    faultInjection.arm('sync', 'EIO', 1);
    const pending = [];
    for (let i = 0; i < 5; i++) pending.push(appendNext(log));
    const pendingOutcomes = await Promise.all(pending.map((o) => outcome(log.confirm(o))));
    const durableAfterFailure = log.durableOffset;
    faultInjection.disarm('sync');
    const r = {
      before,
      durableBefore,
      pendingOffsets: pending,
      pendingOutcomes,
      durableAfterFailure,
      appendAfter: attempt(() => appendNext(log)),
      appendBatchAfter: attempt(() => log.appendBatch(['a', 'b'])),
      flushAfter: await outcome(log.flush()),
      // Confirms asked for after the failure: an earlier durable offset, and a failed one.
      confirmEarlier: await outcome(log.confirm(3)),
      confirmEarlierCallback: await new Promise((resolve) => log.confirm(4, (err, c) => resolve({ error: describe(err), value: c }))),
      confirmFailedAgain: await outcome(log.confirm(pending[0])),
      readEarlier: attempt(() => readValues(log, 0, 10)),
    };
    // Fail-stop: nothing may become durable after the failure, even with the fault gone.
    await new Promise((resolve) => setTimeout(resolve, 50));
    r.durableLater = log.durableOffset;
    r.endOffset = log.endOffset;
    r.close = await outcome(log.close());
    return r;
  },

  // EIO from the pwrite of a sealed batch (writePath 'pwrite', the default).
  'write-eio': () => writeEio('always'),
  // Under sync 'none' the JavaScript thread writes each sealed batch itself (nothing syncs the
  // active segment): a failed pwrite there must fail the log in the same way.
  'write-eio-none': () => writeEio('none'),

  // The same when the failed write is of a full batch sealed inside an append (batchBytesMax).
  async 'write-eio-none-full-batch'() {
    const log = await Log.open(dir, { sync: 'none', segmentBytes: 1 << 20, batchBytesMax: 4096 });
    const before = await appendConfirmed(log, 10);
    faultInjection.arm('write', 'EIO', 1);
    const pending = [];
    let failedAppend;
    for (let i = 0; i < 200 && failedAppend === undefined; i++) {
      const a = attempt(() => log.append(Buffer.alloc(100, 1)));
      if (a.error) failedAppend = a;
      else pending.push(a.value);
    }
    const pendingOutcomes = await Promise.all(pending.map((o) => outcome(log.confirm(o))));
    faultInjection.disarm('write');
    const r = { before, failedAppend, pendingCount: pending.length, pendingOutcomes, highWatermark: log.highWatermark };
    r.close = await outcome(log.close());
    return r;
  },

  // EIO, then a power loss before anyone reopens: the confirmed prefix must survive.
  async 'sync-eio-power-loss'() {
    const log = await Log.open(dir, { sync: 'always', segmentBytes: 1 << 20 });
    const before = await appendConfirmed(log, 10);
    faultInjection.arm('sync', 'EIO', 1);
    const pending = [];
    for (let i = 0; i < 5; i++) pending.push(appendNext(log));
    const pendingOutcomes = await Promise.all(pending.map((o) => outcome(log.confirm(o))));
    faultInjection.disarm('sync');
    log.simulatePowerLoss();
    const reopened = await Log.open(dir, { sync: 'always', segmentBytes: 1 << 20 });
    const r = {
      before,
      pendingOutcomes,
      recovery: reopened.recovery,
      endOffset: reopened.endOffset,
      values: readValues(reopened, 0, reopened.endOffset),
      appendAfterReopen: attempt(() => appendNext(reopened)),
    };
    r.confirmAfterReopen = await outcome(reopened.confirm(r.appendAfterReopen.value));
    await reopened.close();
    return r;
  },

  // EIO under sync 'interval': the failure reaches flush() and the writers.
  async 'sync-eio-interval'() {
    const log = await Log.open(dir, { sync: 'interval', syncIntervalMs: 3_600_000, segmentBytes: 1 << 20 });
    const visible = await appendConfirmed(log, 5);
    const durableBefore = log.durableOffset;
    faultInjection.arm('sync', 'EIO', 1);
    const flush = await outcome(log.flush());
    faultInjection.disarm('sync');
    const r = {
      visible,
      durableBefore,
      flush,
      appendAfter: attempt(() => appendNext(log)),
      flushAgain: await outcome(log.flush()),
      durableAfter: log.durableOffset,
      readEarlier: attempt(() => readValues(log, 0, 5)),
    };
    r.close = await outcome(log.close());
    return r;
  },

  // ENOSPC while reserving the space of the next segment.
  async 'allocate-enospc'() {
    const log = await Log.open(dir, { sync: 'always', segmentBytes: 65536 });
    // From now on no segment file can be prepared (the first one may or may not be ready yet).
    faultInjection.arm('allocate', 'ENOSPC', 1000);
    const confirmed = [];
    let failure = null;
    // ~1 KB values: a roll every ~60 messages; at most two rolls before the space runs out.
    const big = (o) => `v${o}`.padEnd(1000, '.');
    while (failure === null && log.endOffset < 1000) {
      const o = log.endOffset;
      try {
        log.append(big(o));
      } catch (err) {
        failure = describe(err);
        break;
      }
      confirmed.push(await log.confirm(o));
    }
    const endAtFailure = log.endOffset;
    const segmentsAtFailure = log.stats().segments;
    const r = {
      confirmed: confirmed.length,
      allDurable: confirmed.every((c) => c.durable),
      failure,
      endAtFailure,
      segmentsAtFailure,
      appendAgain: attempt(() => log.append(big(log.endOffset))),
      appendBatchAgain: attempt(() => log.appendBatch([big(endAtFailure), big(endAtFailure + 1)])),
      endAfterRetries: log.endOffset,
      readEarlier: attempt(() => {
        const values = readValues(log, 0, endAtFailure);
        return { count: values.length, intact: values.every(([o, v]) => v === big(o)) };
      }),
      flushWhileFull: await outcome(log.flush()),
      confirmEarlier: await outcome(log.confirm(0)),
    };
    faultInjection.disarm('allocate');
    r.appendAfterDisarm = attempt(() => log.append(big(log.endOffset)));
    r.confirmAfterDisarm = r.appendAfterDisarm.value === undefined ? null : await outcome(log.confirm(r.appendAfterDisarm.value));
    const more = [];
    for (let i = 0; i < 100; i++) more.push(log.append(big(log.endOffset)));
    r.moreOffsets = [more[0], more[more.length - 1]];
    await Promise.all(more.map((o) => log.confirm(o)));
    r.segmentsAfter = log.stats().segments;
    r.endOffset = log.endOffset;
    r.allReadBack = readValues(log, 0, log.endOffset).every(([o, v]) => v === big(o));
    r.countReadBack = readValues(log, 0, log.endOffset).length;
    r.close = await outcome(log.close());
    return r;
  },

  // ENOSPC while the active segment's reservation grows (64 MiB segments: steps of 64 KiB up).
  async 'grow-enospc'() {
    const log = await Log.open(dir, { sync: 'always', segmentBytes: 64 << 20 });
    const big = (o) => `v${o}`.padEnd(1000, '.');
    const confirmed = await appendConfirmed(log, 1);
    // From now on no reservation can grow, neither ahead of the writer nor when it catches up.
    faultInjection.arm('allocate', 'ENOSPC', 1000000);
    let failure = null;
    while (failure === null && log.endOffset < 100000) {
      const o = log.endOffset;
      try {
        log.append(big(o));
      } catch (err) {
        failure = describe(err);
        break;
      }
      confirmed.push(await log.confirm(o));
    }
    const segment = path.join(dir, segmentFiles()[0]);
    const endAtFailure = log.endOffset;
    const r = {
      confirmed: confirmed.length,
      allDurable: confirmed.every((c) => c.durable),
      failure,
      endAtFailure,
      segmentsAtFailure: log.stats().segments,
      bytesAtFailure: log.stats().sizeBytes,
      fileSizeAtFailure: fs.statSync(segment).size,
      appendAgain: attempt(() => log.append(big(log.endOffset))),
      appendBatchAgain: attempt(() => log.appendBatch([big(endAtFailure), big(endAtFailure + 1)])),
      endAfterRetries: log.endOffset,
      readEarlier: attempt(() => {
        const values = readValues(log, 0, endAtFailure);
        return { count: values.length, intact: values.every(([o, v]) => (o === 0 ? v === value(0) : v === big(o))) };
      }),
      confirmEarlier: await outcome(log.confirm(endAtFailure - 1)),
    };
    faultInjection.disarm('allocate');
    // Space back: 2 MB more, across several more steps.
    r.appendAfterDisarm = attempt(() => log.append(big(log.endOffset)));
    const more = [];
    for (let i = 0; i < 2000; i++) more.push(log.append(big(log.endOffset)));
    r.confirmsAfter = await Promise.all(more.map((o) => log.confirm(o)));
    r.endOffset = log.endOffset;
    r.fileSizeAfter = fs.statSync(segment).size;
    r.bytesAfter = log.stats().sizeBytes;
    const values = readValues(log, 0, log.endOffset);
    r.countReadBack = values.length;
    r.allReadBack = values.every(([o, v]) => (o === 0 ? v === value(0) : v === big(o)));
    r.flushAfter = await outcome(log.flush());
    r.close = await outcome(log.close());
    return r;
  },

  // After a confirm resolves durable for a message in a new segment, a power loss keeps it.
  async 'dir-entries'() {
    const rounds = [];
    const big = (o) => `v${o}`.padEnd(2000, '-');
    for (let round = 0; round < 8; round++) {
      const log = await Log.open(dir, { sync: 'always', segmentBytes: 65536 });
      const segments = log.stats().segments;
      // Fill the active segment, confirming as we go, until a message lands in a new one.
      let o;
      for (;;) {
        o = log.append(big(log.endOffset));
        if (log.stats().segments > segments) break;
        await log.confirm(o);
      }
      const files = segmentFiles();
      const newest = files[files.length - 1];
      // Confirm the first message of the new segment, then lose power at once.
      const c = await log.confirm(o);
      log.simulatePowerLoss();
      const fileSurvived = fs.existsSync(path.join(dir, newest));
      const reopened = await Log.open(dir, { sync: 'always', segmentBytes: 65536 });
      const back = attempt(() => readValues(reopened, 0, o + 1));
      const intact = back.value !== undefined && back.value.length === o + 1 && back.value.every(([k, v]) => v === big(k));
      rounds.push({ offset: o, confirm: c, newestBase: Number(newest.slice(0, 20)), fileSurvived, endAfter: reopened.endOffset, intact, readError: back.error, clean: reopened.recovery.cleanShutdown });
      await reopened.close();
    }
    return { rounds };
  },

  // close() then simulatePowerLoss(): refused; the next open sees a clean shutdown.
  async 'close-then-power-loss'() {
    const log = await Log.open(dir, { sync: 'always', segmentBytes: 65536 });
    const confirmed = await appendConfirmed(log, 50);
    await log.close();
    const powerLoss = attempt(() => log.simulatePowerLoss());
    const reopened = await Log.open(dir, { sync: 'always', segmentBytes: 65536 });
    const r = {
      confirmed: confirmed.length,
      powerLoss,
      recovery: reopened.recovery,
      endOffset: reopened.endOffset,
      values: readValues(reopened, 0, reopened.endOffset),
    };
    await reopened.close();
    return r;
  },

  // The same power loss without a close: the control for the scenario above.
  async 'power-loss-without-close'() {
    const log = await Log.open(dir, { sync: 'always', segmentBytes: 65536 });
    const confirmed = await appendConfirmed(log, 50);
    log.simulatePowerLoss();
    const reopened = await Log.open(dir, { sync: 'always', segmentBytes: 65536 });
    const r = { confirmed: confirmed.length, recovery: reopened.recovery, endOffset: reopened.endOffset, values: readValues(reopened, 0, reopened.endOffset) };
    await reopened.close();
    return r;
  },
};

(async () => {
  if (!faultInjection.available) throw new Error('run with SLUICE_FAULT_INJECTION=1');
  const run = scenarios[scenario];
  if (run === undefined) throw new Error(`unknown scenario ${scenario}`);
  const result = await run();
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
})().catch((err) => {
  process.stderr.write(`scenario ${scenario} failed: ${err && err.stack}\n`, () => process.exit(2));
});
