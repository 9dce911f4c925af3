/**
 * A process that ends with a Log or Broker still open (its event loop ran dry, say with a promise
 * nobody will resolve) exits normally: Node's teardown finalizes the flusher notification before
 * the native log, which must then leave it alone (it used to abort with SIGABRT).
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp';
import { checkDist } from '../helpers/broker-spawn.cjs';

describe('exiting with a log open', () => {
  it.each(['log', 'broker'])('exits with code 0, no signal (%s)', (what) => {
    const dist = checkDist();
    const dir = tmpDir('sluice-exit-');
    const script = `
      const { Log, Broker } = require(${JSON.stringify(dist)});
      (async () => {
        if (${JSON.stringify(what)} === 'log') {
          const log = await Log.open(${JSON.stringify(path.join(dir, 'log'))}, { sync: 'always' });
          log.append('x');
          await log.confirm(0);
        } else {
          const b = await Broker.open(${JSON.stringify(path.join(dir, 'broker'))});
          await b.createTopic('t', { sync: 'always' });
          await b.send('t', { value: 'x' });
        }
        await new Promise(() => {}); // never settles: the loop runs dry and the process ends
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  });
});
