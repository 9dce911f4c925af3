/**
 * Opening a data directory for a command: read-only for those that only read (they never take
 * the lock, so they work beside a running `sluice serve`), writable for the others, with a clear
 * message when another broker holds the directory.
 */
import { Broker } from '../broker/broker';
import { ErrorCode, SluiceError } from '../errors';

export async function openData(dir: string, mode: 'read' | 'write'): Promise<Broker> {
  try {
    return await Broker.open(dir, mode === 'read' ? { readOnly: true } : {});
  } catch (e) {
    if (e instanceof SluiceError && e.code === ErrorCode.LOCKED) {
      throw new SluiceError(`${dir} is open in another broker (a running sluice serve?): stop it first, or use a command that only reads`, ErrorCode.LOCKED);
    }
    throw e;
  }
}

/** Runs `fn` with the broker of `dir`, closing it after. */
export async function withData<T>(dir: string, mode: 'read' | 'write', fn: (broker: Broker) => Promise<T>): Promise<T> {
  const broker = await openData(dir, mode);
  try {
    return await fn(broker);
  } finally {
    await broker.close();
  }
}
