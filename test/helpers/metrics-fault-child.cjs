'use strict';
// Child of test/metrics/serve-metrics.test.ts, run with SLUICE_FAULT_INJECTION=1: a broker in
// argv[2] with two topics; the next sync of "fragile" fails (EIO), so it fails-stop while "sturdy"
// stays healthy. Prints "metrics <url>" once the metrics server listens, then "failed" once the
// failed send has been seen, and waits to be killed.
const { Broker, faultInjection } = require('../../dist/index.js');
const { MetricsServer } = require('../../dist/metrics/metrics-server.js');

(async () => {
  const broker = await Broker.open(process.argv[2]);
  await broker.createTopic('sturdy', { sync: 'always' });
  await broker.createTopic('fragile', { sync: 'always' });
  await broker.send('sturdy', { value: 'ok' });
  const metrics = await MetricsServer.start({ broker, port: 0 });
  process.stdout.write(`metrics http://127.0.0.1:${metrics.address.port}\n`);
  faultInjection.arm('sync', 'EIO', 1);
  await broker.send('fragile', { value: 'lost' }).then(
    () => process.stdout.write('unexpectedly confirmed\n'),
    () => process.stdout.write('failed\n'),
  );
  setInterval(() => {}, 1000);
})();
