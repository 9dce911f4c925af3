'use strict';
// Child process of the torture run's server target (test/torture/server-target.ts): serves the
// broker in `dir` over the Kafka protocol on 127.0.0.1:`port` (0: any free port) until it is
// killed, with no initial rebalance delay (members of a new group are taken at once) and the group
// state checkpointed every `checkpointBytes`. Says `ready <port>` once it accepts connections. With `powerAfterMs`
// (and SLUICE_FAULT_INJECTION=1) it simulates a power failure of the whole broker after that
// long, says `power`, and exits 0. Lines on stdout are written synchronously.
const fs = require('node:fs');
const { Broker } = require('../../dist/index.js');
const { powerLossAfter } = require('./power-loss-timer.cjs');
const { Server } = require('../../dist/kafka/index.js');

const { dir, port, checkpointBytes = 4 << 20, powerAfterMs = null } = JSON.parse(process.argv[2]);
const line = (s) => fs.writeSync(1, `${s}\n`);
setTimeout(() => process.exit(3), 60_000).unref();

async function main() {
  const broker = await Broker.open(dir, { groupCheckpointBytes: checkpointBytes });
  const server = await Server.start({ broker, host: '127.0.0.1', port, groupInitialRebalanceDelayMs: 0 });
  powerLossAfter(broker, powerAfterMs);
  line(`ready ${server.address.port}`);
}

main().catch((e) => {
  line(`error ${e.code ?? ''} ${e.message}`);
  process.exit(1);
});
