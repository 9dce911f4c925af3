'use strict';
// Parent side of the broker crash tests: runs a test/helpers/broker-*.cjs child with its argument
// as JSON, collects the complete lines it writes on stdout, and kills it with SIGKILL.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js');

/** Fails clearly when the compiled library the children load is missing. */
function checkDist() {
  if (!fs.existsSync(path.join(__dirname, '..', '..', 'dist', 'broker', 'broker.js'))) {
    throw new Error('dist/ has no broker: build it first (npx tsc -p .)');
  }
  return DIST;
}

/** Runs `script` with `arg` (as JSON), and `env` added to this process's environment. */
function spawnChild(script, arg, env = {}) {
  checkDist();
  const child = spawn(process.execPath, [path.join(__dirname, script), JSON.stringify(arg)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const lines = [];
  let partial = '';
  let stderr = '';
  const waiters = new Set();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop();
    lines.push(...parts);
    for (const w of [...waiters]) w();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => (stderr += chunk));
  let done = false;
  // 'close', not 'exit': the last lines may still be in the pipe when the process exits.
  const exited = new Promise((resolve) => child.on('close', (code, signal) => {
    done = true; // before the waiters look, or one waiting for a line that never came waits forever
    for (const w of [...waiters]) w();
    resolve({ code, signal });
  }));
  return {
    lines,
    get stderr() {
      return stderr;
    },
    exited,
    /** Resolves once pred(lines) holds; rejects if the child exits first. */
    waitFor(pred, what = 'a line') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const errorLine = lines.find((l) => l.startsWith('error '));
          if (errorLine !== undefined) {
            waiters.delete(check);
            reject(new Error(`child ${script} failed: ${errorLine}\n${stderr}`));
          } else if (pred(lines)) {
            waiters.delete(check);
            resolve();
          } else if (done) {
            waiters.delete(check);
            reject(new Error(`child ${script} exited before ${what}: ${stderr}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    async kill9() {
      if (!done) child.kill('SIGKILL');
      return exited;
    },
  };
}

/**
 * Adds what a broker-crash-worker.cjs child reported ("sent V", "acking V", "acked V" lines) to
 * the sets `seen` holds.
 */
function absorbWorkerLines(lines, seen) {
  for (const l of lines) {
    const [kind, value] = l.split(' ');
    if (kind === 'sent') seen.sent.add(value);
    else if (kind === 'acking') seen.acking.add(value);
    else if (kind === 'acked') seen.acked.add(value);
  }
}

module.exports = { spawnChild, checkDist, absorbWorkerLines };
