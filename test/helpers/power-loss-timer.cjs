'use strict';
// Children of the broker crash tests and the torture run (run with SLUICE_FAULT_INJECTION=1):
// simulate a power failure of the whole broker `ms` from now, say `power` on stdout
// (synchronously), and exit 0. Nothing when `ms` is null.
const fs = require('node:fs');

function powerLossAfter(broker, ms) {
  if (ms === null) return;
  setTimeout(() => {
    broker.simulatePowerLoss();
    fs.writeSync(1, 'power\n');
    process.exit(0);
  }, ms);
}

module.exports = { powerLossAfter };
