'use strict';
// Child of test/kafka/storage-faults.test.ts, run with SLUICE_FAULT_INJECTION=1: `sluice serve`'s
// own serve() (SIGHUP, SIGTERM and all) over the data directory in argv[2], with --metrics on a
// free port, plus a line protocol on stdin for the test to arm faults inside the process:
//   arm <sync|allocate|write> <EIO|ENOSPC> <count> <path part>   -> prints "armed"
//   disarm <kind>                                                -> prints "disarmed"
// The path part is appended to the data directory, so that a fault strikes one partition only.
const path = require('node:path');
const readline = require('node:readline');
const { faultInjection } = require('../../dist/index.js');
const { serve } = require('../../dist/cli/commands/serve.js');

const data = process.argv[2];
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, kind, errno, count, part] = line.trim().split(/\s+/);
  if (command === 'arm') {
    faultInjection.arm(kind, errno, Number(count), path.join(data, part));
    process.stdout.write('armed\n');
  } else if (command === 'disarm') {
    faultInjection.disarm(kind);
    process.stdout.write('disarmed\n');
  }
});

serve({ data, listen: { host: '127.0.0.1', port: 0 }, partitions: 1, sync: 'always', autoCreateTopics: true, metrics: { host: '127.0.0.1', port: 0 } }).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`serve failed: ${err && err.stack}\n`);
    process.exit(1);
  },
);
