'use strict';
/**
 * The child process of test/crash/short-files-never-sigbus.test.ts: opens each log directory named
 * in the JSON array argv[2] (with the options in argv[3]), and tries everything that touches the
 * mapped files: every read, slice and offsetForTime, then one append and a clean close. One line
 * per directory on stdout:
 *   BEGIN <dir>                       (so a signal shows which directory killed the process)
 *   {"dir", "ok": true, "endOffset", "startOffset", "recovery", "texts": [sha of each record], "appendedAt"}
 *   {"dir", "ok": false, "code", "path", "position", "message"}     open (or a read) failed
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Log } = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));
const { readAll, recordText } = require('./crash-files.cjs');

const dirs = JSON.parse(process.argv[2]);
const options = JSON.parse(process.argv[3]);

function say(obj) {
  process.stdout.write((typeof obj === 'string' ? obj : JSON.stringify(obj)) + '\n');
}

function failure(dir, err) {
  return { dir, ok: false, code: err.code ?? null, path: err.path ?? null, position: err.position ?? null, message: String(err.message) };
}

async function tryDir(dir) {
  let log;
  try {
    log = await Log.open(dir, options);
  } catch (err) {
    return failure(dir, err);
  }
  try {
    const records = readAll(log);
    const texts = records.map((r) => crypto.createHash('sha256').update(recordText(r)).digest('hex').slice(0, 16));
    for (let o = log.startOffset; o < log.endOffset; o += 7) {
      const s = log.slice(o, { maxBytes: 1 });
      if (s !== null) fs.closeSync(s.fd);
    }
    for (const r of records.filter((_, i) => i % 11 === 0)) log.offsetForTime(r.timestamp);
    log.offsetForTime(Number.MAX_SAFE_INTEGER);
    const endOffset = log.endOffset;
    const startOffset = log.startOffset;
    const recovery = log.recovery;
    const appendedAt = log.append('appended after the open', { timestamp: 5 });
    await log.flush();
    await log.close();
    return { dir, ok: true, endOffset, startOffset, recovery, texts, appendedAt };
  } catch (err) {
    await log.close().catch(() => {});
    return failure(dir, err);
  }
}

async function main() {
  for (const dir of dirs) {
    say(`BEGIN ${dir}`);
    say(await tryDir(dir));
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
